// Package gateway serves a WebSocket API with API Gateway's semantics: it
// selects a route from each frame ($request.body.<field>), falls back to
// $default, refuses the handshake when $connect answers non-2xx, calls
// $disconnect on close, enforces the frame, message and idle limits, and
// serves the @connections management API (POST, GET, DELETE, 410 Gone).
package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// Invoker invokes a route's integration (a Lambda function).
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

// API Gateway's WebSocket limits.
const (
	MaxFrameBytes   = 32 * 1024
	MaxMessageBytes = 128 * 1024
)

// Config describes one WebSocket API.
type Config struct {
	APIID string
	Stage string
	// SelectionField is the body field of the route selection expression
	// ("action" for $request.body.action).
	SelectionField string
	Routes         map[string]Invoker // route key → integration
	IdleTimeout    time.Duration      // API Gateway: 10 minutes
	// Throttles are the stage's route throttling (DefaultRouteSettings and
	// RouteSettings): a token bucket per route, shared by every client, as
	// API Gateway throttles a stage. "" is the default for routes without
	// their own; no entry, no throttling.
	Throttles map[string]Throttle
	// Authorize, when set, authorises an @connections call as IAM would:
	// a non-zero status refuses it with that code and message.
	Authorize   func(r *http.Request, connectionID string) (status int, code, message string)
	MaxDuration time.Duration // API Gateway: 2 hours
	// Fault, when set, may answer an authorised @connections call as a
	// failing API Gateway would (the local stack's fault mode): serve does
	// the call, drop closes the client's connection as a lost network
	// does. It reports whether it answered.
	Fault func(w http.ResponseWriter, r *http.Request, serve func(http.ResponseWriter), drop func()) bool
}

// Throttle is a route's steady rate (requests per second) and burst.
type Throttle struct {
	Rate  float64
	Burst int
}

// Gateway is one WebSocket API and its management API.
type Gateway struct {
	cfg      Config
	log      *slog.Logger
	mu       sync.Mutex
	conns    map[string]*conn
	wg       sync.WaitGroup
	closed   bool
	limiters map[string]*rate.Limiter // route key → its bucket
	// Billing: messages in (client frames) and out (@connections posts),
	// each counted per 32 KB as API Gateway does, and connection minutes.
	messagesIn, messagesOut atomic.Int64
	connectedMinutes        atomic.Int64
}

// Usage is what the gateway would bill.
type Usage struct {
	MessagesIn       int64 `json:"messagesIn"`
	MessagesOut      int64 `json:"messagesOut"`
	ConnectedMinutes int64 `json:"connectionMinutes"`
	Open             int   `json:"open"`
}

// Usage reports the messages and connection minutes so far (open
// connections count the minutes begun).
func (g *Gateway) Usage() Usage {
	g.mu.Lock()
	open := 0
	var minutes int64
	for _, c := range g.conns {
		open++
		minutes += int64(time.Since(c.connectedAt).Minutes()) + 1
	}
	g.mu.Unlock()
	return Usage{MessagesIn: g.messagesIn.Load(), MessagesOut: g.messagesOut.Load(), ConnectedMinutes: g.connectedMinutes.Load() + minutes, Open: open}
}

// billed counts a message of n bytes as API Gateway bills it: per 32 KB.
func billed(n int) int64 { return int64(n/(32*1024) + 1) }

type conn struct {
	id          string
	ws          *websocket.Conn
	connectedAt time.Time
	host        string
	sourceIP    string
	userAgent   string
	mu          sync.Mutex
	lastActive  time.Time
	guard       *frameGuard
	cancel      context.CancelFunc
}

// New returns a gateway.
func New(cfg Config, log *slog.Logger) *Gateway {
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.MaxDuration == 0 {
		cfg.MaxDuration = 2 * time.Hour
	}
	g := &Gateway{cfg: cfg, log: log.With("api", cfg.APIID), conns: map[string]*conn{}, limiters: map[string]*rate.Limiter{}}
	for route := range cfg.Routes {
		t, ok := cfg.Throttles[route]
		if !ok {
			t, ok = cfg.Throttles[""]
		}
		if ok {
			g.limiters[route] = rate.NewLimiter(rate.Limit(t.Rate), t.Burst)
		}
	}
	return g
}

// throttled reports whether a route's bucket is empty now.
func (g *Gateway) throttled(route string) bool {
	l, ok := g.limiters[route]
	return ok && !l.Allow()
}

// ServeHTTP serves the WebSocket endpoint /<stage> and the management API
// /<stage>/@connections/<id>.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	stagePath := "/" + g.cfg.Stage
	switch {
	case strings.HasPrefix(r.URL.Path, stagePath+"/@connections/"):
		g.manage(w, r, strings.TrimPrefix(r.URL.Path, stagePath+"/@connections/"))
	case r.URL.Path == stagePath || r.URL.Path == stagePath+"/":
		g.accept(w, r)
	default:
		writeAPIError(w, http.StatusForbidden, "ForbiddenException", "Forbidden")
	}
}

// Close closes every connection (each gets its $disconnect) and waits.
func (g *Gateway) Close() {
	g.mu.Lock()
	g.closed = true
	conns := make([]*conn, 0, len(g.conns))
	for _, c := range g.conns {
		conns = append(conns, c)
	}
	g.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close(websocket.StatusGoingAway, "Going away")
	}
	g.wg.Wait()
}

func newID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.TrimRight(base64.StdEncoding.EncodeToString(b), "=")
}

func (g *Gateway) requestContext(c *conn, routeKey, eventType string) events.APIGatewayWebsocketProxyRequestContext {
	now := time.Now()
	return events.APIGatewayWebsocketProxyRequestContext{
		RouteKey: routeKey, EventType: eventType, ConnectionID: c.id, RequestID: newID(), ExtendedRequestID: newID(),
		Stage: g.cfg.Stage, APIID: g.cfg.APIID, DomainName: c.host, ConnectedAt: c.connectedAt.UnixMilli(),
		RequestTimeEpoch: now.UnixMilli(), RequestTime: now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
		Identity: events.APIGatewayRequestIdentity{SourceIP: c.sourceIP, UserAgent: c.userAgent},
	}
}

func (g *Gateway) accept(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		http.Error(w, "closed", http.StatusServiceUnavailable)
		return
	}
	g.mu.Unlock()
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	c := &conn{id: newID(), connectedAt: time.Now(), host: r.Host, sourceIP: ip, userAgent: r.UserAgent()}
	if g.throttled("$connect") {
		// API Gateway refuses the handshake: 429 Too Many Requests.
		g.log.Info("connect throttled")
		http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
		return
	}
	if inv, ok := g.cfg.Routes["$connect"]; ok {
		req := events.APIGatewayWebsocketProxyRequest{
			Headers: map[string]string{}, MultiValueHeaders: map[string][]string{}, IsBase64Encoded: false,
			RequestContext: g.requestContext(c, "$connect", "CONNECT"),
		}
		for k, v := range r.Header {
			req.Headers[k] = strings.Join(v, ",")
			req.MultiValueHeaders[k] = v
		}
		if q := r.URL.Query(); len(q) > 0 {
			req.QueryStringParameters, req.MultiValueQueryStringParameters = map[string]string{}, map[string][]string{}
			for k, v := range q {
				req.QueryStringParameters[k] = v[len(v)-1]
				req.MultiValueQueryStringParameters[k] = v
			}
		}
		status := g.invokeHTTP(r.Context(), inv, req)
		if status < 200 || status > 299 {
			g.log.Info("connect refused", "connection_id", c.id, "status", status)
			http.Error(w, http.StatusText(status), status)
			return
		}
	}
	var guard *frameGuard
	ws, err := websocket.Accept(guardedWriter{ResponseWriter: w, guard: &guard, limit: MaxFrameBytes}, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		g.log.Warn("websocket upgrade failed", "error", err)
		return
	}
	ws.SetReadLimit(MaxMessageBytes)
	ctx, cancel := context.WithTimeout(context.Background(), g.cfg.MaxDuration)
	c.ws, c.cancel, c.lastActive, c.guard = ws, cancel, time.Now(), guard
	g.mu.Lock()
	g.conns[c.id] = c
	g.wg.Add(1)
	g.mu.Unlock()
	go g.serve(ctx, c)
}

// invokeHTTP invokes an integration and returns its statusCode (500 when
// the function failed or answered something unreadable).
func (g *Gateway) invokeHTTP(ctx context.Context, inv Invoker, req events.APIGatewayWebsocketProxyRequest) int {
	payload, _ := json.Marshal(req)
	out, err := inv.Invoke(ctx, payload)
	if err != nil {
		g.log.Warn("integration failed", "route", req.RequestContext.RouteKey, "connection_id", req.RequestContext.ConnectionID, "error", err)
		return http.StatusInternalServerError
	}
	var resp events.APIGatewayProxyResponse
	if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
		return http.StatusOK // a proxy integration answering no status is a success
	}
	return resp.StatusCode
}

func (g *Gateway) serve(ctx context.Context, c *conn) {
	defer g.wg.Done()
	defer c.cancel()
	defer func() { g.connectedMinutes.Add(int64(time.Since(c.connectedAt).Minutes()) + 1) }()
	idle := time.AfterFunc(g.cfg.IdleTimeout, func() { _ = c.ws.Close(websocket.StatusGoingAway, "Going away") })
	defer idle.Stop()
	var inflight sync.WaitGroup
	for {
		typ, body, err := c.ws.Read(ctx)
		if err != nil {
			if c.guard != nil && c.guard.tooBig.Load() {
				// As API Gateway: "if a larger message (or larger frame
				// size) is received, the connection is closed with code
				// 1009" (WebSocket quotas).
				_ = c.ws.Close(websocket.StatusMessageTooBig, "Message too big")
				g.log.Info("frame over the size limit; connection closed", "connection_id", c.id)
			}
			break
		}
		idle.Reset(g.cfg.IdleTimeout)
		c.mu.Lock()
		c.lastActive = time.Now()
		c.mu.Unlock()
		if typ != websocket.MessageText {
			_ = c.ws.Close(websocket.StatusUnsupportedData, "binary frames are not supported")
			break
		}
		g.messagesIn.Add(billed(len(body)))
		route := g.selectRoute(body)
		inv, ok := g.cfg.Routes[route]
		if !ok {
			g.sendForbidden(c)
			continue
		}
		if g.throttled(route) {
			g.sendMessage(c, "Too Many Requests", newID())
			continue
		}
		req := events.APIGatewayWebsocketProxyRequest{
			Body: string(body), IsBase64Encoded: false, RequestContext: g.requestContext(c, route, "MESSAGE"),
		}
		req.RequestContext.MessageID = newID()
		inflight.Add(1)
		// Frames of one connection are integrated concurrently, as in API
		// Gateway: clients must not rely on the order of answers.
		go func() {
			defer inflight.Done()
			if status := g.invokeHTTP(context.Background(), inv, req); status >= 500 {
				g.sendInternalError(c, req.RequestContext.RequestID)
			}
		}()
	}
	g.mu.Lock()
	delete(g.conns, c.id)
	g.mu.Unlock()
	inflight.Wait()
	if inv, ok := g.cfg.Routes["$disconnect"]; ok {
		req := events.APIGatewayWebsocketProxyRequest{RequestContext: g.requestContext(c, "$disconnect", "DISCONNECT")}
		g.invokeHTTP(context.Background(), inv, req)
	}
	_ = c.ws.CloseNow()
}

// selectRoute evaluates the route selection expression against a frame.
func (g *Gateway) selectRoute(body []byte) string {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return "$default"
	}
	if key, ok := m[g.cfg.SelectionField].(string); ok {
		if _, exists := g.cfg.Routes[key]; exists && !strings.HasPrefix(key, "$") {
			return key
		}
	}
	return "$default"
}

// sendForbidden is what API Gateway answers a frame no route takes.
func (g *Gateway) sendForbidden(c *conn) {
	b, _ := json.Marshal(map[string]string{"message": "Forbidden", "connectionId": c.id, "requestId": newID()})
	_ = c.ws.Write(context.Background(), websocket.MessageText, b)
}

func (g *Gateway) sendInternalError(c *conn, requestID string) {
	g.sendMessage(c, "Internal server error", requestID)
}

// sendMessage sends one of API Gateway's own answers to a frame.
func (g *Gateway) sendMessage(c *conn, message, requestID string) {
	b, _ := json.Marshal(map[string]string{"message": message, "connectionId": c.id, "requestId": requestID})
	_ = c.ws.Write(context.Background(), websocket.MessageText, b)
}

func (g *Gateway) lookup(id string) *conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.conns[id]
}

func writeAPIError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]string{"message": msg})
	_, _ = w.Write(b)
}

// manage serves the @connections API.
func (g *Gateway) manage(w http.ResponseWriter, r *http.Request, id string) {
	if g.cfg.Authorize != nil {
		if status, code, msg := g.cfg.Authorize(r, id); status != 0 {
			writeAPIError(w, status, code, msg)
			return
		}
	}
	if g.cfg.Fault != nil {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(io.LimitReader(r.Body, MaxMessageBytes+1))
		}
		serve := func(w http.ResponseWriter) {
			r.Body = io.NopCloser(bytes.NewReader(body))
			g.serveManage(w, r, id)
		}
		drop := func() {
			if c := g.lookup(id); c != nil {
				c.ws.CloseNow()
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if g.cfg.Fault(w, r, serve, drop) {
			return
		}
	}
	g.serveManage(w, r, id)
}

// serveManage answers an authorised @connections call.
func (g *Gateway) serveManage(w http.ResponseWriter, r *http.Request, id string) {
	c := g.lookup(id)
	if c == nil {
		writeAPIError(w, http.StatusGone, "GoneException", "connection is gone")
		return
	}
	switch r.Method {
	case http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxMessageBytes+1))
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "BadRequestException", "reading body")
			return
		}
		if len(body) > MaxMessageBytes {
			writeAPIError(w, http.StatusRequestEntityTooLarge, "PayloadTooLargeException", fmt.Sprintf("payload is over %d bytes", MaxMessageBytes))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		g.messagesOut.Add(billed(len(body)))
		if err := c.ws.Write(ctx, websocket.MessageText, body); err != nil {
			writeAPIError(w, http.StatusGone, "GoneException", "connection is gone")
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		c.mu.Lock()
		last := c.lastActive
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"connectedAt": c.connectedAt.UTC().Format(time.RFC3339), "lastActiveAt": last.UTC().Format(time.RFC3339),
			"identity": map[string]string{"sourceIp": c.sourceIP, "userAgent": c.userAgent},
		})
	case http.MethodDelete:
		_ = c.ws.Close(websocket.StatusNormalClosure, "")
		w.WriteHeader(http.StatusNoContent)
	default:
		writeAPIError(w, http.StatusMethodNotAllowed, "BadRequestException", "method not allowed")
	}
}
