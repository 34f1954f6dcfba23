package chat_test

import (
	"context"
	"strings"
	"testing"

	"github.com/patientservicecenter/psc/shared/chat"
	"github.com/patientservicecenter/psc/shared/fault"
)

// tokens is an IDTokens that knows some tokens' emails.
type tokens map[string]string

func (k tokens) VerifiedEmail(_ context.Context, tok string) (string, error) {
	if e, ok := k[tok]; ok {
		return e, nil
	}
	return "", fault.Errorf(fault.Unauthorized, "the sign-in is not valid")
}

// onFile is an OnFile with one email per patient.
type onFile map[string]string

func (o onFile) EmailOnFile(_ context.Context, patientID string) (string, error) {
	return o[patientID], nil
}

// TestASignInVerifiesThePatientWhoseEmailIsOnFile (issue 20): signing in
// with the hospital's identity provider verifies the conversation as the
// proved email, when it is the email on file for the patient's
// appointments (or they have none); every page of the conversation hears
// the new level. A bad token, another email, another patient's
// conversation and a center without sign-in are refused, and change
// nothing.
func TestASignInVerifiesThePatientWhoseEmailIsOnFile(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, conv := f.startOn(t, "a", "Ana")
	signIn := func(conn, tok string) error {
		return f.do(t, conn, `{"action":"signIn","conversationId":"`+conv+`","idToken":"`+tok+`","requestId":"s1"}`)
	}
	if err := signIn("a", "h.p.s"); fault.CodeOf(err) != fault.BadRequest {
		t.Fatalf("sign-in not set up: %v", err)
	}
	files := onFile{}
	f.svc.WithSignIn(chat.SignIns{Tokens: tokens{"ana.id.tok": "ana@example.org", "bo.id.tok": "bo@example.org"}, OnFile: files, Marks: f.m.MemConversations})
	patient := f.m.conv(conv).PatientID
	files[patient] = "Ana@Example.org"
	if err := signIn("a", "forged.id.tok"); fault.CodeOf(err) != fault.Unauthorized {
		t.Fatalf("a bad token: %v", err)
	}
	if err := signIn("a", "bo.id.tok"); fault.CodeOf(err) != fault.Forbidden || !strings.Contains(err.Error(), "b•••@example.org") {
		t.Fatalf("another email than the one on file: %v", err)
	}
	if c := f.m.conv(conv); c.Identity != "" {
		t.Fatalf("verified after refusals: %+v", c.Identity)
	}
	if err := f.svc.Connect(ctx, "b", ""); err != nil {
		t.Fatal(err)
	}
	if err := signIn("b", "ana.id.tok"); err == nil {
		t.Fatal("another session signed in to Ana's conversation")
	}
	if err := signIn("a", "ana.id.tok"); err != nil {
		t.Fatal(err)
	}
	if c := f.m.conv(conv); c.Identity != chat.IdentityVerified || c.VerifiedEmail != "ana@example.org" {
		t.Fatalf("after the sign-in: %q %q", c.Identity, c.VerifiedEmail)
	}
	answer := f.m.frames("a", "signedIn")
	if len(answer) != 1 || answer[0]["email"] != "a•••@example.org" || answer[0]["requestId"] != "s1" {
		t.Fatalf("the answer: %v", answer)
	}
	if st := f.m.frames("a", "status"); st[len(st)-1]["identity"] != "verified" {
		t.Fatalf("the status after the sign-in: %v", st[len(st)-1])
	}
	// A patient with no appointment yet is verified as whom they proved.
	_, other := f.startOn(t, "c", "Bo")
	if err := f.do(t, "c", `{"action":"signIn","conversationId":"`+other+`","idToken":"bo.id.tok"}`); err != nil {
		t.Fatal(err)
	}
	if c := f.m.conv(other); c.VerifiedEmail != "bo@example.org" {
		t.Fatalf("no email on file: %q", c.VerifiedEmail)
	}
}
