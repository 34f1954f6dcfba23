package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cip "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider"
	ciptypes "github.com/aws/aws-sdk-go-v2/service/cognitoidentityprovider/types"
	"gopkg.in/yaml.v3"

	"github.com/patientservicecenter/psc/localstack/template"
)

// DemoUser is a console login the local stack creates in the agent pool.
type DemoUser struct {
	Username  string `yaml:"username" json:"username"`
	Password  string `yaml:"password" json:"password"`
	Name      string `yaml:"name" json:"name"`
	Group     string `yaml:"group" json:"group"`
	Skills    string `yaml:"skills" json:"skills,omitempty"`
	Languages string `yaml:"languages" json:"languages,omitempty"`
	Capacity  int    `yaml:"capacity" json:"capacity,omitempty"`
}

// AgentPool is what the stack tells users about the agent user pool.
type AgentPool struct {
	ID       string `json:"id"`
	ClientID string `json:"clientId"`
	Issuer   string `json:"issuer"`
	JWKSURL  string `json:"jwksUrl"`
	// Endpoint is the user-pool API the console signs in against: the
	// emulator's, through the stack's front that puts AWS's challenges.
	Endpoint string     `json:"endpoint"`
	Users    []DemoUser `json:"users"`
}

// createUserPools creates the template's Cognito user pools, their app
// clients and groups. The emulator issues tokens whose issuer is the AWS
// form but serves the keys under its own endpoint, so the stack sets the
// AgentJwksUrl parameter, when the stage leaves it empty, to where the
// emulator serves them.
func (s *Stack) createUserPools(ctx context.Context) error {
	pools := s.ofType("AWS::Cognito::UserPool")
	if len(pools) == 0 {
		return nil
	}
	for _, id := range pools {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		poolID, err := s.createUserPool(ctx, id, props)
		if err != nil {
			return err
		}
		s.res.Refs[id] = poolID
		s.res.Attrs[id+".Arn"] = arn("cognito-idp", "userpool/"+poolID)
		s.res.Attrs[id+".ProviderName"] = "cognito-idp." + Region + ".amazonaws.com/" + poolID
		s.res.Attrs[id+".ProviderURL"] = "https://cognito-idp." + Region + ".amazonaws.com/" + poolID
		for _, who := range []string{"Agent", "Patient"} {
			if s.res.Refs[who+"JwksUrl"] == "" && strings.Contains(strings.ToLower(id), strings.ToLower(who)) {
				s.res.Refs[who+"JwksUrl"] = s.emu.endpoint + "/" + poolID + "/.well-known/jwks.json"
			}
		}
	}
	for _, id := range s.ofType("AWS::Cognito::UserPoolDomain") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		var in cip.CreateUserPoolDomainInput
		if err := convertProps(props, &in); err != nil {
			return fmt.Errorf("user pool domain %s: %w", id, err)
		}
		if _, err := s.cognito.CreateUserPoolDomain(ctx, &in); err != nil && !strings.Contains(err.Error(), "exist") {
			return fmt.Errorf("creating user pool domain %s: %w", id, err)
		}
		s.res.Refs[id] = aws.ToString(in.Domain)
	}
	clients := map[string]frontClient{}
	for _, id := range s.ofType("AWS::Cognito::UserPoolClient") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		clientID, err := s.createUserPoolClient(ctx, id, props)
		if err != nil {
			return err
		}
		s.res.Refs[id] = clientID
		for _, pid := range pools {
			if s.res.Refs[pid] != props["UserPoolId"] {
				continue
			}
			pp, err := s.resolvedProps(pid)
			if err != nil {
				return err
			}
			fc := frontClient{mfaOn: pp["MfaConfiguration"] == "ON", policy: template.MapOf(template.MapOf(pp["Policies"])["PasswordPolicy"])}
			for _, a := range template.ListOf(props["WriteAttributes"]) {
				fc.write = append(fc.write, fmt.Sprint(a))
			}
			clients[clientID] = fc
		}
	}
	s.cognitoFront = newCognitoFront(s.emu.endpoint, s.cognito, clients)
	for _, id := range s.ofType("AWS::Cognito::UserPoolGroup") {
		props, err := s.resolvedProps(id)
		if err != nil {
			return err
		}
		var in cip.CreateGroupInput
		if err := convertProps(props, &in); err != nil {
			return fmt.Errorf("group %s: %w", id, err)
		}
		_, err = s.cognito.CreateGroup(ctx, &in)
		var exists *ciptypes.GroupExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("creating group %s: %w", id, err)
		}
		s.res.Refs[id] = aws.ToString(in.GroupName)
	}
	return nil
}

func (s *Stack) createUserPool(ctx context.Context, logical string, props map[string]any) (string, error) {
	name, _ := props["UserPoolName"].(string)
	if name == "" {
		name = s.opts.StackName + "-" + logical
	}
	// The emulator keeps pools across runs in its state directory: reuse
	// the pool of that name rather than making a second one.
	if id, ok, err := s.findUserPool(ctx, name); err != nil || ok {
		return id, err
	}
	keep := map[string]any{}
	for _, k := range []string{"Policies", "Schema", "AdminCreateUserConfig", "MfaConfiguration", "AccountRecoverySetting", "DeletionProtection",
		"UsernameAttributes", "AutoVerifiedAttributes"} {
		if v, ok := props[k]; ok {
			keep[k] = v
		}
	}
	var in cip.CreateUserPoolInput
	if err := convertProps(keep, &in); err != nil {
		return "", fmt.Errorf("user pool %s: %w", logical, err)
	}
	in.PoolName = &name
	out, err := s.cognito.CreateUserPool(ctx, &in)
	if err != nil {
		return "", fmt.Errorf("creating user pool %s: %w", logical, err)
	}
	return aws.ToString(out.UserPool.Id), nil
}

func (s *Stack) findUserPool(ctx context.Context, name string) (string, bool, error) {
	p := cip.NewListUserPoolsPaginator(s.cognito, &cip.ListUserPoolsInput{MaxResults: aws.Int32(60)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", false, fmt.Errorf("listing user pools: %w", err)
		}
		for _, up := range page.UserPools {
			if aws.ToString(up.Name) == name {
				return aws.ToString(up.Id), true, nil
			}
		}
	}
	return "", false, nil
}

func (s *Stack) createUserPoolClient(ctx context.Context, logical string, props map[string]any) (string, error) {
	poolID, _ := props["UserPoolId"].(string)
	name, _ := props["ClientName"].(string)
	list, err := s.cognito.ListUserPoolClients(ctx, &cip.ListUserPoolClientsInput{UserPoolId: &poolID, MaxResults: aws.Int32(60)})
	if err != nil {
		return "", fmt.Errorf("listing the clients of %s: %w", poolID, err)
	}
	for _, c := range list.UserPoolClients {
		if aws.ToString(c.ClientName) == name {
			return aws.ToString(c.ClientId), nil
		}
	}
	keep := map[string]any{}
	for _, k := range []string{"UserPoolId", "ClientName", "GenerateSecret", "ExplicitAuthFlows", "PreventUserExistenceErrors",
		"EnableTokenRevocation", "IdTokenValidity", "AccessTokenValidity", "RefreshTokenValidity", "TokenValidityUnits",
		"ReadAttributes", "WriteAttributes", "AllowedOAuthFlowsUserPoolClient", "AllowedOAuthFlows", "AllowedOAuthScopes",
		"SupportedIdentityProviders", "CallbackURLs", "LogoutURLs"} {
		if v, ok := props[k]; ok {
			keep[k] = v
		}
	}
	var in cip.CreateUserPoolClientInput
	if err := convertProps(keep, &in); err != nil {
		return "", fmt.Errorf("user pool client %s: %w", logical, err)
	}
	out, err := s.cognito.CreateUserPoolClient(ctx, &in)
	if err != nil {
		return "", fmt.Errorf("creating user pool client %s: %w", logical, err)
	}
	return aws.ToString(out.UserPoolClient.ClientId), nil
}

// seedAgents creates the demo console users of localstack/demo-agents.yaml
// in the agent pool (skipping those that exist) and records the pool in
// the outputs, logins included, so `make run` can print them.
func (s *Stack) seedAgents(ctx context.Context) error {
	poolLogical, clientLogical := s.poolNamed("agent")
	if poolLogical == "" || clientLogical == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(s.opts.Root, "localstack", "demo-agents.yaml"))
	if err != nil {
		return fmt.Errorf("reading the demo agents: %w", err)
	}
	var demo struct {
		Users []DemoUser `yaml:"users"`
	}
	if err := yaml.Unmarshal(b, &demo); err != nil {
		return fmt.Errorf("reading the demo agents: %w", err)
	}
	poolID := s.res.Refs[poolLogical]
	for _, u := range demo.Users {
		if err := s.createUser(ctx, poolID, u); err != nil {
			return err
		}
	}
	s.Outputs.AgentPool = &AgentPool{
		ID: poolID, ClientID: s.res.Refs[clientLogical], Issuer: s.res.Attrs[poolLogical+".ProviderURL"],
		JWKSURL: s.emu.endpoint + "/" + poolID + "/.well-known/jwks.json", Endpoint: s.Outputs.Web + "cognito/", Users: demo.Users,
	}
	s.log.Info("seeded the agent pool", "pool", poolID, "users", len(demo.Users))
	return nil
}

func (s *Stack) createUser(ctx context.Context, poolID string, u DemoUser) error {
	// The name patients see is custom:display_name, which only admins
	// write; `name` is the pool's required attribute.
	attrs := []ciptypes.AttributeType{{Name: aws.String("name"), Value: &u.Name}, {Name: aws.String("custom:display_name"), Value: &u.Name}}
	if u.Skills != "" {
		attrs = append(attrs, ciptypes.AttributeType{Name: aws.String("custom:skills"), Value: &u.Skills})
	}
	if u.Languages != "" {
		attrs = append(attrs, ciptypes.AttributeType{Name: aws.String("custom:languages"), Value: &u.Languages})
	}
	if u.Capacity > 0 {
		attrs = append(attrs, ciptypes.AttributeType{Name: aws.String("custom:capacity"), Value: aws.String(fmt.Sprint(u.Capacity))})
	}
	// As an admin creates staff (docs/operations.md): a temporary
	// password, which the first sign-in must change, then set up an
	// authenticator (the pool requires MFA).
	_, err := s.cognito.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
		UserPoolId: &poolID, Username: &u.Username, UserAttributes: attrs, MessageAction: ciptypes.MessageActionTypeSuppress,
		TemporaryPassword: &u.Password,
	})
	var exists *ciptypes.UsernameExistsException
	if errors.As(err, &exists) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating demo user %s: %w", u.Username, err)
	}
	if _, err := s.cognito.AdminAddUserToGroup(ctx, &cip.AdminAddUserToGroupInput{
		UserPoolId: &poolID, Username: &u.Username, GroupName: &u.Group,
	}); err != nil {
		return fmt.Errorf("adding demo user %s to %s: %w", u.Username, u.Group, err)
	}
	return nil
}

// poolNamed finds the user pool whose logical id names who ("agent",
// "patient") and its app client.
func (s *Stack) poolNamed(who string) (pool, client string) {
	for _, id := range s.ofType("AWS::Cognito::UserPool") {
		if strings.Contains(strings.ToLower(id), who) {
			pool = id
		}
	}
	if pool == "" {
		return "", ""
	}
	for _, id := range s.ofType("AWS::Cognito::UserPoolClient") {
		if props, err := s.resolvedProps(id); err == nil && props["UserPoolId"] == s.res.Refs[pool] {
			client = id
		}
	}
	return pool, client
}

// DemoPatient is a patient's account the local stack creates in the
// patients' pool, standing in for the hospital's own sign-in.
type DemoPatient struct {
	Email    string `yaml:"email" json:"email"`
	Password string `yaml:"password" json:"password"`
}

// PatientSignIn is what the stack tells the chat page (config.json) and
// users about the patients' sign-in: the hosted sign-in's endpoints (in
// AWS on the pool's domain, https://<prefix>.auth.<region>.amazoncognito.com;
// here the emulator's), the page's app client, where it returns.
type PatientSignIn struct {
	AuthorizeURL string        `json:"authorizeUrl"`
	TokenURL     string        `json:"tokenUrl"`
	ClientID     string        `json:"clientId"`
	RedirectURI  string        `json:"redirectUri"`
	Issuer       string        `json:"issuer"`
	Users        []DemoPatient `json:"users,omitempty"`
}

// seedPatients creates the demo patients of localstack/demo-patients.yaml
// in the patients' pool (with a verified email and a permanent password,
// as the hospital's accounts are) and records the sign-in in the outputs.
func (s *Stack) seedPatients(ctx context.Context) error {
	poolLogical, clientLogical := s.poolNamed("patient")
	if poolLogical == "" || clientLogical == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(s.opts.Root, "localstack", "demo-patients.yaml"))
	if err != nil {
		return fmt.Errorf("reading the demo patients: %w", err)
	}
	var demo struct {
		Patients []DemoPatient `yaml:"patients"`
	}
	if err := yaml.Unmarshal(b, &demo); err != nil {
		return fmt.Errorf("reading the demo patients: %w", err)
	}
	poolID := s.res.Refs[poolLogical]
	for _, p := range demo.Patients {
		_, err := s.cognito.AdminCreateUser(ctx, &cip.AdminCreateUserInput{
			UserPoolId: &poolID, Username: &p.Email, MessageAction: ciptypes.MessageActionTypeSuppress,
			UserAttributes: []ciptypes.AttributeType{{Name: aws.String("email"), Value: &p.Email}, {Name: aws.String("email_verified"), Value: aws.String("true")}},
		})
		var exists *ciptypes.UsernameExistsException
		if err != nil && !errors.As(err, &exists) {
			return fmt.Errorf("creating demo patient: %w", err)
		}
		if _, err := s.cognito.AdminSetUserPassword(ctx, &cip.AdminSetUserPasswordInput{
			UserPoolId: &poolID, Username: &p.Email, Password: &p.Password, Permanent: true,
		}); err != nil {
			return fmt.Errorf("setting a demo patient's password: %w", err)
		}
	}
	props, err := s.resolvedProps(clientLogical)
	if err != nil {
		return err
	}
	s.Outputs.PatientSignIn = &PatientSignIn{
		AuthorizeURL: s.emu.endpoint + "/oauth2/authorize", TokenURL: s.emu.endpoint + "/oauth2/token", ClientID: s.res.Refs[clientLogical],
		RedirectURI: fmt.Sprint(template.ListOf(props["CallbackURLs"])[0]), Issuer: s.res.Attrs[poolLogical+".ProviderURL"], Users: demo.Patients,
	}
	s.log.Info("seeded the patients' pool", "pool", poolID, "users", len(demo.Patients))
	return nil
}
