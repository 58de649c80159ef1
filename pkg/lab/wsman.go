package lab

// The lab's WS-Management endpoint: a real HTTP handler that speaks the Windows Remote
// Shell protocol (MS-WSMV text shells: Create, Command, Send, Receive, Signal, Delete) the
// way the masterzen/winrm client expects it (go-libraries.md section 3), so the product's
// remote code runs unchanged against it over a loopback socket.
//
// Routing: the target host is the host name in the HTTP Host header (port removed, lower
// case). A client that dials the lab's address for every host name (remote.Config.Dial)
// while its URLs keep naming the real target gets each request routed to that simulated
// host.
//
// Commands: the endpoint accepts the patchnight bootstrap command line only
// (scripts.Command); it collects stdin until End="true", decodes the framed script and
// JSON parameters (scripts.ParseInput), reads the "# patchnight-op: name/N" line and calls
// OpHandler.Handle(ctx, host, name, params). The handler's JSON object goes to stdout with
// exit code 0; a handler error becomes {"error":{"code":..,"message":..}} with exit code 1.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/patchnight/patchnight/scripts"
)

// OpHandler answers one remote script operation for one simulated host.
type OpHandler interface {
	// Handle runs operation op (the name from the script's "# patchnight-op:" line) with
	// the JSON parameter object params for host, and returns the one JSON object the
	// script prints. An error is reported to the client as a script failure: its code is
	// the error's ErrorCode() string when it has that method ("failed" otherwise), its
	// message the error text. ctx ends when the client signals or deletes the shell or the
	// endpoint closes.
	Handle(ctx context.Context, host, op string, params json.RawMessage) (json.RawMessage, error)
}

// OpHandlerFunc adapts a function to OpHandler.
type OpHandlerFunc func(ctx context.Context, host, op string, params json.RawMessage) (json.RawMessage, error)

// Handle calls f.
func (f OpHandlerFunc) Handle(ctx context.Context, host, op string, params json.RawMessage) (json.RawMessage, error) {
	return f(ctx, host, op, params)
}

// StderrError is an error a handler returns to make the simulated PowerShell die the way
// a real one does on an uncaught error: nothing on stdout, the text as a CLIXML error
// record on stderr, exit code 1.
type StderrError struct {
	Text string // what PowerShell would have written to its error stream
}

func (e *StderrError) Error() string { return e.Text }

// WSManOptions configures a WSMan endpoint.
type WSManOptions struct {
	// Users are the lab accounts: user name → password. Names match case-insensitively on
	// the bare account name ("LAB\admin", "admin@lab" and "admin" are all "admin").
	Users map[string]string
	// DisableBasic and DisableNTLM switch an authentication scheme off. Both are on by
	// default; Basic is offered on HTTP too (the client is expected to refuse it there).
	DisableBasic, DisableNTLM bool
	// Domain is the NetBIOS domain name the NTLM challenge announces ("LAB" if empty).
	Domain string
	// Kerberos, when set, accepts Kerberos service tickets ("Negotiate" with SPNEGO or a
	// raw krb5 token, or "Kerberos") checked with a keytab, with mutual authentication and
	// message encryption as Windows does (wsman_krb.go).
	Kerberos *WSManKerberos
	// ReceiveTimeout caps how long a Receive waits for output before it answers with the
	// OperationTimeout fault, as Windows does for long polls. Zero means the request's own
	// w:OperationTimeout (60 s if absent).
	ReceiveTimeout time.Duration
	// Faults returns the fault to inject for a host (see Fault); nil means none. It is
	// called for every request and must be safe for concurrent use.
	Faults func(host string) Fault
	// Machine is the name reported in WS-Man faults ("127.0.0.1" if empty).
	Machine string
	// OnRequest, when set, is called for every authenticated SOAP request with the target
	// host and the WS-Man action (Create, Command, Send, Receive, Signal, Delete).
	OnRequest func(host, action string)
	// OnScript, when set, is called with every script the endpoint is about to run, as
	// it arrived on stdin.
	OnScript func(host, op, script string)
	// MaxEnvelopeSize is the largest request envelope the endpoint accepts, in bytes, as
	// the WinRM service setting MaxEnvelopeSizekb does: a larger request is refused with
	// a WS-Man fault. Zero means DefaultMaxEnvelopeSize.
	MaxEnvelopeSize int
	// ShellHistory bounds how many ended shells Shells keeps (oldest dropped first);
	// zero means 4096.
	ShellHistory int
}

// DefaultMaxEnvelopeSize is the lab's MaxEnvelopeSizekb: 150 KB, the documented Windows
// default (configmgr.md section 8: 150 documented, 500 observed; the lab takes the
// stricter).
const DefaultMaxEnvelopeSize = 150 * 1024

// FaultKind is a failure the endpoint injects for a host.
type FaultKind int

// The faults. Each says where it strikes.
const (
	FaultNone         FaultKind = iota
	FaultHang                   // any request: never answered until the client gives up or the endpoint closes
	FaultQuota                  // Create: HTTP 500 with the WS-Man "maximum number of concurrent shells" fault
	FaultUnauthorized           // any request: HTTP 401, whatever the credentials
	FaultResetReceive           // Receive: the connection is reset in the middle of the response
	FaultRefuse                 // any request: the connection is closed at once, no response (host unreachable)
	// FaultConstrainedLanguage: every script fails as on a host whose PowerShell runs in
	// ConstrainedLanguage mode: exit 1, PowerShell's error as CLIXML on stderr.
	FaultConstrainedLanguage
	// FaultDropAfterChallenge: the NTLM CHALLENGE goes out with "Connection: close", so the
	// AUTHENTICATE leg arrives on a new connection, which has no challenge: as when a busy
	// host or a proxy drops the connection between the legs of a handshake.
	FaultDropAfterChallenge
)

var wsFaultNames = [...]string{"none", "hang", "quota", "unauthorized", "reset-receive", "refuse", "constrained-language", "drop-after-challenge"}

func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(wsFaultNames) {
		return wsFaultNames[k]
	}
	return "fault(" + strconv.Itoa(int(k)) + ")"
}

// Fault is what the endpoint does to one host's requests.
type Fault struct {
	Kind FaultKind // the failure; FaultNone for latency only
	// Latency is added before every response to this host's requests.
	Latency time.Duration
	// Times limits the failure to its first Times occurrences for the host (for example
	// Times 1 with FaultResetReceive: the first attempt is reset, a retry succeeds). Zero
	// means every time.
	Times int
}

// WSManStats are the endpoint's request counters (a snapshot).
type WSManStats struct {
	Requests int64            // HTTP requests received, of every kind
	AuthLegs int64            // requests answered 401 (wsAnonymous probes, NTLM handshake legs, bad credentials)
	Commands int64            // scripts run (handler calls)
	ByAction map[string]int64 // requests by WS-Man action (Create, Command, Send, Receive, Signal, Delete, unknown)
	ByOp     map[string]int64 // requests of the shells that ran each operation, their connection's auth legs included
	OpRuns   map[string]int64 // handler calls by operation
	ByHost   map[string]int64 // requests by target host
	Faults   map[string]int64 // injected faults by kind
	// Options counts the WS-Man options requests carried, as "Action NAME=VALUE" (for
	// example "Command WINRS_CONSOLEMODE_STDIN=FALSE", "Create WINRS_CODEPAGE=65001").
	Options map[string]int64
	// MaxEnvelope is the largest request envelope received, in bytes, by action (refused
	// ones included).
	MaxEnvelope map[string]int64
	// TooLarge counts requests refused for exceeding MaxEnvelopeSize.
	TooLarge int64

	// KerberosRefused counts Kerberos tokens refused (bad ticket, wrong SPN, replay).
	KerberosRefused int64
	// NTLMCrossed counts NTLM legs out of order on their connection: an AUTHENTICATE
	// with no CHALLENGE pending there or answering another connection's, and a NEGOTIATE
	// that replaced an unanswered CHALLENGE.
	// Windows binds the handshake to the connection and refuses both; a client that
	// spreads one handshake over pooled connections (go-ntlmssp's Negotiator under
	// concurrent requests) causes them.
	NTLMCrossed int64
}

// ShellRecord is what the endpoint saw of one shell, from Create to Delete.
type ShellRecord struct {
	ID      string
	Host    string
	Op      string            // the operation its command ran ("" if none started)
	Options map[string]string // the options of its Create and Command requests, "Command NAME" → value
	Signals []string          // the signal codes it received (e.g. ".../signal/terminate")
	Deleted bool              // a Delete ended it
	Done    bool              // its command had finished when it was signalled or deleted
}

// WSMan is the lab's WS-Management endpoint; it implements http.Handler on POST /wsman.
// Create it with NewWSMan; install ConnState on the http.Server (Attach does) so that
// per-connection NTLM state is dropped when connections close.
type WSMan struct {
	handler   OpHandler
	opts      WSManOptions
	bootstrap string

	ctx    context.Context // ends on Close
	cancel context.CancelFunc

	mu      sync.Mutex
	shells  map[string]*wsShell
	hosts   map[string]*wsHost
	conns   map[string]*wsConn // by remote address
	stats   WSManStats
	history []*wsShell // every shell, oldest first (bounded by ShellHistory)
}

type wsHost struct {
	fired int // faults injected so far
}

// wsConn is the state of one client connection: NTLM is connection-bound, like on Windows.
type wsConn struct {
	challenge     []byte       // the last NTLM server challenge sent on this connection
	authenticated string       // user name once NTLM or Kerberos auth succeeded
	session       *ntlmSession // NTLM sealing, when the client negotiated it
	krb           *krbSession  // Kerberos sealing (wsman_krb.go)
	pending       int64        // requests not yet attributed to a shell
}

type wsShell struct {
	id       string
	host     string
	op       string
	requests int64
	commands map[string]*wsCommand
	options  map[string]string
	signals  []string
	deleted  bool
	done     bool
}

type wsCommand struct {
	id        string
	cmdline   string
	stdin     []byte
	started   bool
	done      chan struct{}
	cancel    context.CancelFunc
	stdout    []byte
	stderr    []byte
	exitCode  int
	delivered bool // Done with the exit code was sent once
}

// NewWSMan returns an endpoint that routes scripts to handler.
func NewWSMan(handler OpHandler, opts WSManOptions) *WSMan {
	if opts.Domain == "" {
		opts.Domain = "LAB"
	}
	if opts.Machine == "" {
		opts.Machine = "127.0.0.1"
	}
	if opts.MaxEnvelopeSize <= 0 {
		opts.MaxEnvelopeSize = DefaultMaxEnvelopeSize
	}
	if opts.ShellHistory <= 0 {
		opts.ShellHistory = 4096
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &WSMan{
		handler:   handler,
		opts:      opts,
		bootstrap: scripts.Bootstrap(),
		ctx:       ctx,
		cancel:    cancel,
		shells:    map[string]*wsShell{},
		hosts:     map[string]*wsHost{},
		conns:     map[string]*wsConn{},
		stats:     wsNewStats(),
	}
}

func wsNewStats() WSManStats {
	return WSManStats{
		ByAction: map[string]int64{}, ByOp: map[string]int64{}, OpRuns: map[string]int64{},
		ByHost: map[string]int64{}, Faults: map[string]int64{}, Options: map[string]int64{}, MaxEnvelope: map[string]int64{},
	}
}

// Attach installs the endpoint's connection-state hook on srv (keeping any hook already
// there), so NTLM state is forgotten when a connection closes.
func (w *WSMan) Attach(srv *http.Server) {
	prev := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		w.ConnState(c, s)
		if prev != nil {
			prev(c, s)
		}
	}
}

// ConnState is an http.Server.ConnState hook: it drops a connection's state when it closes.
func (w *WSMan) ConnState(c net.Conn, s http.ConnState) {
	if s == http.StateClosed || s == http.StateHijacked {
		w.mu.Lock()
		delete(w.conns, c.RemoteAddr().String())
		w.mu.Unlock()
	}
}

// Close releases hanging requests and cancels running handlers. The endpoint answers no
// request after it.
func (w *WSMan) Close() { w.cancel() }

// Stats returns a snapshot of the request counters.
func (w *WSMan) Stats() WSManStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.ByAction = wsCloneCounts(w.stats.ByAction)
	s.ByOp = wsCloneCounts(w.stats.ByOp)
	s.OpRuns = wsCloneCounts(w.stats.OpRuns)
	s.ByHost = wsCloneCounts(w.stats.ByHost)
	s.Faults = wsCloneCounts(w.stats.Faults)
	s.Options = wsCloneCounts(w.stats.Options)
	s.MaxEnvelope = wsCloneCounts(w.stats.MaxEnvelope)
	return s
}

// Shells returns what the endpoint saw of its shells (open and ended), oldest first.
func (w *WSMan) Shells() []ShellRecord {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]ShellRecord, 0, len(w.history))
	for _, sh := range w.history {
		r := ShellRecord{ID: sh.id, Host: sh.host, Op: sh.op, Options: map[string]string{},
			Signals: append([]string(nil), sh.signals...), Deleted: sh.deleted, Done: sh.done}
		for k, v := range sh.options {
			r.Options[k] = v
		}
		out = append(out, r)
	}
	return out
}

// ResetStats sets every counter to zero.
func (w *WSMan) ResetStats() {
	w.mu.Lock()
	w.stats = wsNewStats()
	w.mu.Unlock()
}

func wsCloneCounts(m map[string]int64) map[string]int64 {
	c := make(map[string]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// wsMaxRequestBody bounds a request body: the client's MaxEnvelopeSize is 150 KB-ish.
const wsMaxRequestBody = 1 << 20

// ServeHTTP implements http.Handler.
func (w *WSMan) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	host := wsTargetHost(r.Host)
	w.mu.Lock()
	w.stats.Requests++
	w.stats.ByHost[host]++
	w.mu.Unlock()

	fault := Fault{}
	if w.opts.Faults != nil {
		fault = w.opts.Faults(host)
	}
	if fault.Latency > 0 && !w.sleep(r.Context(), fault.Latency) {
		wsAbort(rw)
		return
	}
	if w.ctx.Err() != nil {
		wsAbort(rw)
		return
	}
	switch fault.Kind {
	case FaultRefuse:
		if w.fire(host, fault) {
			wsAbort(rw)
			return
		}
	case FaultHang:
		if w.fire(host, fault) {
			select {
			case <-r.Context().Done():
			case <-w.ctx.Done():
			}
			wsAbort(rw)
			return
		}
	case FaultUnauthorized:
		if w.fire(host, fault) {
			w.countAuthLeg(r)
			w.challengeHeaders(rw)
			rw.WriteHeader(http.StatusUnauthorized)
			return
		}
	}

	if r.Method != http.MethodPost || r.URL.Path != "/wsman" {
		w.writeFault(rw, http.StatusNotFound, "", wsFault{code: "s:Sender", subcode: "w:DestinationUnreachable",
			reason: "The WS-Management service cannot process the request: POST /wsman only.", wsmanCode: 2150858770})
		return
	}
	user, ok := w.authenticate(rw, r)
	if !ok {
		return
	}
	_ = user

	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, wsMaxRequestBody))
	if err != nil {
		w.writeFault(rw, http.StatusBadRequest, "", wsFault{code: "s:Sender", subcode: "w:EncodingLimit",
			reason: "The request is too large or could not be read.", wsmanCode: 2150858817})
		return
	}
	w.mu.Lock()
	sess := w.conn(r).sealer()
	w.mu.Unlock()
	if sess != nil && strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/encrypted") {
		plain, err := sess.unsealRequest(body)
		if err != nil {
			w.writeFault(rw, http.StatusBadRequest, "", wsFault{code: "s:Sender", subcode: "w:EncodingLimit",
				reason: "The sealed message could not be opened: " + err.Error(), wsmanCode: 2150858817})
			return
		}
		body = plain
		sw := newSealWriter(rw, sess)
		defer sw.flush()
		rw = sw
	}
	if len(body) == 0 {
		// An authentication-only request (the sealing handshake sends empty messages).
		w.attribute(r, "", "Authenticate")
		rw.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
		rw.WriteHeader(http.StatusOK)
		return
	}
	var env wsEnvelope
	if err := wsDecode(body, &env); err != nil {
		w.writeFault(rw, http.StatusBadRequest, "", wsFault{code: "s:Sender", subcode: "w:SchemaValidationError",
			reason: "The SOAP XML in the message does not match the corresponding XML schema definition.", wsmanCode: 2150858817})
		return
	}
	action := strings.TrimPrefix(strings.TrimPrefix(env.Header.Action, wsNSShell+"/"), wsNSTransfer+"/")
	w.attribute(r, env.shellID(), action)
	if w.opts.OnRequest != nil {
		w.opts.OnRequest(host, action)
	}
	w.mu.Lock()
	if n := int64(len(body)); n > w.stats.MaxEnvelope[action] {
		w.stats.MaxEnvelope[action] = n
	}
	tooLarge := len(body) > w.opts.MaxEnvelopeSize
	if tooLarge {
		w.stats.TooLarge++
	}
	for _, o := range env.Header.OptionSet.Options {
		w.stats.Options[action+" "+strings.TrimSpace(o.Name)+"="+strings.TrimSpace(o.Value)]++
	}
	w.mu.Unlock()
	if tooLarge {
		w.writeFault(rw, http.StatusInternalServerError, env.Header.MessageID, wsEnvelopeTooLarge)
		return
	}

	switch action {
	case "Create":
		if fault.Kind == FaultQuota && w.fire(host, fault) {
			w.writeFault(rw, http.StatusInternalServerError, env.Header.MessageID, wsQuotaFault)
			return
		}
		w.create(rw, r, host, &env)
	case "Command":
		w.command(rw, &env)
	case "Send":
		w.send(rw, host, &env)
	case "Receive":
		if fault.Kind == FaultResetReceive && w.fire(host, fault) {
			wsResetMidResponse(rw)
			return
		}
		w.receive(rw, r, &env)
	case "Signal":
		w.signal(rw, &env)
	case "Delete":
		w.delete(rw, &env)
	default:
		w.writeFault(rw, http.StatusBadRequest, env.Header.MessageID, wsFault{code: "s:Sender", subcode: "a:ActionNotSupported",
			reason: "The action is not supported by the service.", wsmanCode: 2150858769})
	}
}

// wsTargetHost returns the lower-case host name of a Host header value.
func wsTargetHost(hostport string) string {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	return strings.ToLower(strings.Trim(h, "[]"))
}

// sleep waits d unless the request or the endpoint ends first; it reports whether d passed.
func (w *WSMan) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-w.ctx.Done():
		return false
	}
}

// fire decides whether a fault strikes now (Times) and counts it.
func (w *WSMan) fire(host string, f Fault) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.hosts[host]
	if h == nil {
		h = &wsHost{}
		w.hosts[host] = h
	}
	if f.Times > 0 && h.fired >= f.Times {
		return false
	}
	h.fired++
	w.stats.Faults[f.Kind.String()]++
	return true
}

// attribute counts a request by action and charges it to its shell (or, before a shell
// exists, to its connection until the next Create).
func (w *WSMan) attribute(r *http.Request, shellID, action string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if action == "" {
		action = "unknown"
	}
	w.stats.ByAction[action]++
	if sh := w.shells[shellID]; sh != nil && shellID != "" {
		sh.requests++
		if sh.op != "" {
			w.stats.ByOp[sh.op]++
		}
		return
	}
	w.conn(r).pending++
}

func (w *WSMan) countAuthLeg(r *http.Request) {
	w.mu.Lock()
	w.stats.AuthLegs++
	w.conn(r).pending++
	w.mu.Unlock()
}

// conn returns the state of r's connection; w.mu must be held.
func (w *WSMan) conn(r *http.Request) *wsConn {
	c := w.conns[r.RemoteAddr]
	if c == nil {
		c = &wsConn{}
		w.conns[r.RemoteAddr] = c
	}
	return c
}

// wsAbort closes the connection without an answer (hijack; a plain return otherwise).
func wsAbort(rw http.ResponseWriter) {
	hj, ok := rw.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	wsResetConn(conn)
}

// wsResetMidResponse starts a 200 response, sends part of the body and resets the connection.
func wsResetMidResponse(rw http.ResponseWriter) {
	hj, ok := rw.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: 4096\r\n\r\n<s:Envelope xmlns:s=\"" + wsNSSOAP + "\"><s:Header>")
	_ = buf.Flush()
	wsResetConn(conn)
}

// wsResetConn closes a connection with a TCP reset where it can.
func wsResetConn(conn net.Conn) {
	raw := conn
	if nc, ok := conn.(interface{ NetConn() net.Conn }); ok {
		raw = nc.NetConn()
	}
	if tc, ok := raw.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = raw.Close()
}

// recordOptions keeps the options of a Create or Command request on its shell.
func (w *WSMan) recordOptions(sh *wsShell, action string, env *wsEnvelope) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range env.Header.OptionSet.Options {
		sh.options[action+" "+strings.TrimSpace(o.Name)] = strings.TrimSpace(o.Value)
	}
}

// --- WS-Man messages -------------------------------------------------------------------

const (
	wsNSSOAP      = "http://www.w3.org/2003/05/soap-envelope"
	wsNSAddr      = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	wsNSTransfer  = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	wsNSWSMan     = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
	wsNSWSManMS   = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
	wsNSShell     = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
	wsNSFault     = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
	wsAnonymous   = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
	wsFaultAction = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
	wsCmdURI      = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
	wsStateDone   = wsNSShell + "/CommandState/Done"
	wsStateRun    = wsNSShell + "/CommandState/Running"
)

// wsEnvelope is the part of a request the endpoint reads. Parsing is namespace-aware.
type wsEnvelope struct {
	XMLName xml.Name `xml:"http://www.w3.org/2003/05/soap-envelope Envelope"`
	Header  struct {
		Action           string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing Action"`
		MessageID        string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing MessageID"`
		ResourceURI      string `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd ResourceURI"`
		OperationTimeout string `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd OperationTimeout"`
		SelectorSet      struct {
			Selectors []struct {
				Name  string `xml:"Name,attr"`
				Value string `xml:",chardata"`
			} `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd Selector"`
		} `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd SelectorSet"`
		OptionSet struct {
			Options []struct {
				Name  string `xml:"Name,attr"`
				Value string `xml:",chardata"`
			} `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd Option"`
		} `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd OptionSet"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Header"`
	Body struct {
		CommandLine *struct {
			Command   string   `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Command"`
			Arguments []string `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Arguments"`
		} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell CommandLine"`
		Send *struct {
			Streams []struct {
				Name      string `xml:"Name,attr"`
				CommandID string `xml:"CommandId,attr"`
				End       string `xml:"End,attr"`
				Data      string `xml:",chardata"`
			} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Stream"`
		} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Send"`
		Receive *struct {
			DesiredStream struct {
				CommandID string `xml:"CommandId,attr"`
				Streams   string `xml:",chardata"`
			} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell DesiredStream"`
		} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Receive"`
		Signal *struct {
			CommandID string `xml:"CommandId,attr"`
			Code      string `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Code"`
		} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Signal"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
}

// wsDecode decodes a request envelope. A Send carries its stdin as one long base64 text
// (most of the message), which encoding/xml reads a byte at a time: when the message's
// longest text is such a run, it is cut out before decoding and set as the one stream's
// data afterwards. Everything else is decoded (and so checked) as before; any other
// shape is decoded whole.
func wsDecode(body []byte, env *wsEnvelope) error {
	start, end := wsLongestText(body)
	if end-start < wsCutText || !wsPlainBase64(body[start:end]) {
		return xml.Unmarshal(body, env)
	}
	rest := make([]byte, 0, len(body)-(end-start))
	rest = append(append(rest, body[:start]...), body[end:]...)
	if err := xml.Unmarshal(rest, env); err != nil {
		return err
	}
	if s := env.Body.Send; s != nil && len(s.Streams) == 1 && s.Streams[0].Data == "" {
		s.Streams[0].Data = string(body[start:end])
		return nil
	}
	*env = wsEnvelope{}
	return xml.Unmarshal(body, env)
}

// wsCutText is the shortest text wsDecode cuts out.
const wsCutText = 4096

// wsLongestText returns the bounds of the longest run of text between a '>' and the next
// '<' in an XML message.
func wsLongestText(b []byte) (start, end int) {
	for i := 0; i < len(b); {
		gt := bytes.IndexByte(b[i:], '>')
		if gt < 0 {
			break
		}
		from := i + gt + 1
		lt := bytes.IndexByte(b[from:], '<')
		if lt < 0 {
			break
		}
		if lt > end-start {
			start, end = from, from+lt
		}
		i = from + lt
	}
	return start, end
}

// wsPlainBase64 reports whether b holds only base64 characters and blanks: text that
// decodes to itself in XML (no entities, no markup).
func wsPlainBase64(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '+', c == '/', c == '=', c == ' ', c == '\t', c == '\n':
		default:
			return false
		}
	}
	return true
}

func (e *wsEnvelope) shellID() string {
	for _, s := range e.Header.SelectorSet.Selectors {
		if s.Name == "ShellId" {
			return strings.TrimSpace(s.Value)
		}
	}
	return ""
}

// wsFault is a WS-Man fault as Windows sends it.
type wsFault struct {
	code, subcode, reason string
	wsmanCode             uint32
}

// wsQuotaFault is Windows' answer when a user has too many shells open: HTTP 500 with
// WSManFault 2150859173 (0x803381A5). Code and text as quoted in public error reports
// (e.g. hashicorp/vagrant#7489); the subcode is an assumption.
var wsQuotaFault = wsFault{
	code: "s:Receiver", subcode: "w:InternalError",
	reason:    "The WS-Management service cannot process the request. This user is allowed a maximum number of 30 concurrent shells, which has been exceeded. Close existing shells or raise the quota for this user. ",
	wsmanCode: 2150859173,
}

// wsTimeoutFault answers a Receive that found no output within OperationTimeout
// (go-libraries.md section 3: masterzen matches the text, pywinrm the code).
var wsTimeoutFault = wsFault{
	code: "s:Receiver", subcode: "w:TimedOut",
	reason:    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout.  ",
	wsmanCode: 2150858793,
}

// wsEnvelopeTooLarge answers a request larger than the service's MaxEnvelopeSizekb. The
// code is HRESULT 0x80338111, which Windows' client renders as the text below
// (dsccommunity/SharePointDsc#670, AutomatedLab/AutomatedLab#1147); the service's own
// fault subcode and reason are an assumption.
var wsEnvelopeTooLarge = wsFault{
	code: "s:Sender", subcode: "w:EncodingLimit",
	reason:    "The WinRM client sent a request to the remote WS-Management service and was notified that the request size exceeded the configured MaxEnvelopeSize quota. ",
	wsmanCode: 2150859025,
}

func wsShellNotFound(id string) wsFault {
	return wsFault{code: "s:Sender", subcode: "w:InvalidSelectors",
		reason:    "The request for the Windows Remote Shell with ShellId " + id + " failed because the shell was not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no longer exists on the server. Provide the correct ShellId or create a new shell and retry the operation. ",
		wsmanCode: 2150858843}
}

func wsXMLText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func wsUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// writeSOAP writes a SOAP envelope with the given action and body.
func (w *WSMan) writeSOAP(rw http.ResponseWriter, status int, action, relatesTo, body string) {
	var b strings.Builder
	b.WriteString(`<s:Envelope xml:lang="en-US" xmlns:s="` + wsNSSOAP + `" xmlns:a="` + wsNSAddr + `" xmlns:x="` + wsNSTransfer +
		`" xmlns:w="` + wsNSWSMan + `" xmlns:rsp="` + wsNSShell + `" xmlns:p="` + wsNSWSManMS + `"><s:Header>`)
	b.WriteString(`<a:Action>` + wsXMLText(action) + `</a:Action>`)
	b.WriteString(`<a:MessageID>uuid:` + wsUUID() + `</a:MessageID>`)
	b.WriteString(`<a:To>` + wsAnonymous + `</a:To>`)
	if relatesTo != "" {
		b.WriteString(`<a:RelatesTo>` + wsXMLText(relatesTo) + `</a:RelatesTo>`)
	}
	b.WriteString(`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`)
	rw.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
	rw.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	rw.WriteHeader(status)
	_, _ = io.WriteString(rw, b.String())
}

func (w *WSMan) writeFault(rw http.ResponseWriter, status int, relatesTo string, f wsFault) {
	body := `<s:Fault><s:Code><s:Value>` + f.code + `</s:Value><s:Subcode><s:Value>` + f.subcode +
		`</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">` + wsXMLText(f.reason) +
		`</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="` + wsNSFault + `" Code="` + strconv.FormatUint(uint64(f.wsmanCode), 10) +
		`" Machine="` + wsXMLText(w.opts.Machine) + `"><f:Message>` + wsXMLText(f.reason) + `</f:Message></f:WSManFault></s:Detail></s:Fault>`
	w.writeSOAP(rw, status, wsFaultAction, relatesTo, body)
}

// --- shell operations ------------------------------------------------------------------

func (w *WSMan) create(rw http.ResponseWriter, r *http.Request, host string, env *wsEnvelope) {
	sh := &wsShell{id: wsUUID(), host: host, commands: map[string]*wsCommand{}, options: map[string]string{}}
	w.recordOptions(sh, "Create", env)
	w.mu.Lock()
	c := w.conn(r)
	sh.requests = c.pending
	c.pending = 0
	w.shells[sh.id] = sh
	w.history = append(w.history, sh)
	if n := len(w.history) - w.opts.ShellHistory; n > 0 {
		w.history = append([]*wsShell(nil), w.history[n:]...)
	}
	w.mu.Unlock()
	body := `<x:ResourceCreated><a:Address>` + wsAnonymous + `</a:Address><a:ReferenceParameters><w:ResourceURI>` + wsCmdURI +
		`</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">` + sh.id + `</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>` +
		`<rsp:Shell><rsp:ShellId>` + sh.id + `</rsp:ShellId><rsp:ResourceUri>` + wsCmdURI + `</rsp:ResourceUri><rsp:Owner>lab</rsp:Owner>` +
		`<rsp:ClientIP>127.0.0.1</rsp:ClientIP><rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams>` +
		`<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>`
	w.writeSOAP(rw, http.StatusOK, wsNSTransfer+"/CreateResponse", env.Header.MessageID, body)
}

// lookup returns the shell a request names, writing the fault itself when there is none.
func (w *WSMan) lookup(rw http.ResponseWriter, env *wsEnvelope) *wsShell {
	id := env.shellID()
	w.mu.Lock()
	sh := w.shells[id]
	w.mu.Unlock()
	if sh == nil {
		w.writeFault(rw, http.StatusInternalServerError, env.Header.MessageID, wsShellNotFound(id))
	}
	return sh
}

func (w *WSMan) command(rw http.ResponseWriter, env *wsEnvelope) {
	sh := w.lookup(rw, env)
	if sh == nil {
		return
	}
	if env.Body.CommandLine == nil {
		w.writeFault(rw, http.StatusBadRequest, env.Header.MessageID, wsFault{code: "s:Sender", subcode: "w:SchemaValidationError",
			reason: "The Command request has no CommandLine.", wsmanCode: 2150858817})
		return
	}
	w.recordOptions(sh, "Command", env)
	cmdline := strings.TrimSpace(strings.Join(append([]string{env.Body.CommandLine.Command}, env.Body.CommandLine.Arguments...), " "))
	cmd := &wsCommand{id: wsUUID(), cmdline: cmdline, done: make(chan struct{})}
	w.mu.Lock()
	sh.commands[cmd.id] = cmd
	w.mu.Unlock()
	if text, err := scripts.ParseCommand(cmdline); err != nil || text != w.bootstrap {
		// Not the patchnight bootstrap: the lab runs nothing else.
		w.finish(cmd, nil, []byte("'"+wsFirstWord(cmdline)+"' is not a command the patchnight lab can run.\r\n"), 1)
	}
	w.writeSOAP(rw, http.StatusOK, wsNSShell+"/CommandResponse", env.Header.MessageID,
		`<rsp:CommandResponse><rsp:CommandId>`+cmd.id+`</rsp:CommandId></rsp:CommandResponse>`)
}

func wsFirstWord(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func (w *WSMan) send(rw http.ResponseWriter, host string, env *wsEnvelope) {
	sh := w.lookup(rw, env)
	if sh == nil {
		return
	}
	if env.Body.Send == nil {
		w.writeFault(rw, http.StatusBadRequest, env.Header.MessageID, wsFault{code: "s:Sender", subcode: "w:SchemaValidationError",
			reason: "The Send request has no Send element.", wsmanCode: 2150858817})
		return
	}
	for _, st := range env.Body.Send.Streams {
		if st.Name != "stdin" {
			continue
		}
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(st.Data))
		if err != nil {
			w.writeFault(rw, http.StatusBadRequest, env.Header.MessageID, wsFault{code: "s:Sender", subcode: "w:SchemaValidationError",
				reason: "The stdin stream is not base64.", wsmanCode: 2150858817})
			return
		}
		w.mu.Lock()
		cmd := sh.commands[st.CommandID]
		start := false
		if cmd != nil && !cmd.started {
			cmd.stdin = append(cmd.stdin, data...)
			if st.End == "true" {
				cmd.started = true
				start = true
			}
		}
		w.mu.Unlock()
		if cmd == nil {
			w.writeFault(rw, http.StatusInternalServerError, env.Header.MessageID, wsFault{code: "s:Sender", subcode: "w:InvalidParameter",
				reason: "The command ID " + st.CommandID + " is not valid for this shell.", wsmanCode: 2150858843})
			return
		}
		if start {
			w.start(sh, cmd, host)
		}
	}
	w.writeSOAP(rw, http.StatusOK, wsNSShell+"/SendResponse", env.Header.MessageID, `<rsp:SendResponse/>`)
}

// start decodes a complete stdin and runs the operation in the background.
func (w *WSMan) start(sh *wsShell, cmd *wsCommand, host string) {
	select {
	case <-cmd.done:
		return // already finished (not the bootstrap)
	default:
	}
	script, params, err := scripts.ParseInput(cmd.stdin)
	if err != nil {
		w.finish(cmd, nil, wsCLIXMLError("patchnight bootstrap: "+err.Error()), 1)
		return
	}
	op, _ := scripts.Op(script)
	if op == "" {
		w.finish(cmd, wsErrorJSON("bad-script", "the script has no '# patchnight-op: name/N' first line"), nil, 1)
		return
	}
	if scripts.ParamsChars(params) > scripts.MaxParamsChars {
		// The bootstrap's ConvertFrom-Json on Windows PowerShell 5.1 throws; its catch
		// prints the exception message as code "exception".
		w.finish(cmd, wsErrorJSON("exception", scripts.ParamsTooLongMessage), nil, 1)
		return
	}
	if len(params) == 0 || !json.Valid(params) {
		w.finish(cmd, wsErrorJSON("bad-parameters", "the parameters are not a JSON value"), nil, 1)
		return
	}
	if w.opts.OnScript != nil {
		w.opts.OnScript(host, op, script)
	}
	if w.opts.Faults != nil {
		if f := w.opts.Faults(host); f.Kind == FaultConstrainedLanguage && w.fire(host, f) {
			w.finish(cmd, nil, wsCLIXMLError(constrainedLanguageError), 1)
			return
		}
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.mu.Lock()
	cmd.cancel = cancel
	sh.op = op
	w.stats.ByOp[op] += sh.requests
	w.stats.OpRuns[op]++
	w.stats.Commands++
	w.mu.Unlock()
	go func() {
		defer cancel()
		out, err := w.handler.Handle(ctx, host, op, json.RawMessage(params))
		var se *StderrError
		switch {
		case errors.As(err, &se):
			w.finish(cmd, nil, wsCLIXMLError(se.Text), 1)
		case err != nil:
			code := "failed"
			var coded interface{ ErrorCode() string }
			if errors.As(err, &coded) && coded.ErrorCode() != "" {
				code = coded.ErrorCode()
			}
			w.finish(cmd, wsErrorJSON(code, err.Error()), nil, 1)
		case !json.Valid(out):
			w.finish(cmd, wsErrorJSON("bad-output", "the lab handler returned no JSON"), nil, 1)
		default:
			w.finish(cmd, append(append([]byte{}, out...), '\r', '\n'), nil, 0)
		}
	}()
}

func (w *WSMan) finish(cmd *wsCommand, stdout, stderr []byte, code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-cmd.done:
		return
	default:
	}
	cmd.stdout, cmd.stderr, cmd.exitCode = stdout, stderr, code
	close(cmd.done)
}

func wsErrorJSON(code, message string) []byte {
	b, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": message}})
	return append(b, '\r', '\n')
}

// wsCLIXMLError renders text as PowerShell writes an error record to a redirected stderr.
func wsCLIXMLError(text string) []byte {
	var b strings.Builder
	b.WriteString("#< CLIXML\r\n")
	b.WriteString(`<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">`)
	for _, line := range strings.Split(text, "\n") {
		b.WriteString(`<S S="Error">` + wsCLIXMLEscape(strings.TrimRight(line, "\r")+"\r\n") + `</S>`)
	}
	b.WriteString(`</Objs>`)
	return []byte(b.String())
}

// wsCLIXMLEscape applies XML escaping and PowerShell's _xHHHH_ escaping of control characters.
func wsCLIXMLEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '_':
			b.WriteString("_x005F_")
		case r < 0x20:
			fmt.Fprintf(&b, "_x%04X_", r)
		default:
			b.WriteRune(r)
		}
	}
	return wsXMLText(b.String())
}

var wsISOSeconds = regexp.MustCompile(`^PT([0-9]+(?:\.[0-9]+)?)S$`)

// wsOperationTimeout parses w:OperationTimeout ("PT60S", "PT60.000S"); 60 s if absent.
func wsOperationTimeout(s string) time.Duration {
	m := wsISOSeconds.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 60 * time.Second
	}
	f, err := strconv.ParseFloat(m[1], 64)
	if err != nil || f <= 0 {
		return 60 * time.Second
	}
	return time.Duration(f * float64(time.Second))
}

func (w *WSMan) receive(rw http.ResponseWriter, r *http.Request, env *wsEnvelope) {
	sh := w.lookup(rw, env)
	if sh == nil {
		return
	}
	id := ""
	if env.Body.Receive != nil {
		id = env.Body.Receive.DesiredStream.CommandID
	}
	w.mu.Lock()
	cmd := sh.commands[id]
	w.mu.Unlock()
	if cmd == nil {
		w.writeFault(rw, http.StatusInternalServerError, env.Header.MessageID, wsFault{code: "s:Sender", subcode: "w:InvalidParameter",
			reason: "The command ID " + id + " is not valid for this shell.", wsmanCode: 2150858843})
		return
	}
	wait := wsOperationTimeout(env.Header.OperationTimeout)
	if w.opts.ReceiveTimeout > 0 && w.opts.ReceiveTimeout < wait {
		wait = w.opts.ReceiveTimeout
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-cmd.done:
	case <-t.C:
		w.writeFault(rw, http.StatusInternalServerError, env.Header.MessageID, wsTimeoutFault)
		return
	case <-r.Context().Done():
		return
	case <-w.ctx.Done():
		wsAbort(rw)
		return
	}
	w.mu.Lock()
	stdout, stderr, code := cmd.stdout, cmd.stderr, cmd.exitCode
	if cmd.delivered {
		stdout, stderr, code = nil, nil, 0 // Windows sends the true exit code only in the first Done
	}
	cmd.delivered = true
	w.mu.Unlock()
	var b strings.Builder
	b.WriteString(`<rsp:ReceiveResponse>`)
	if len(stdout) > 0 {
		b.WriteString(`<rsp:Stream Name="stdout" CommandId="` + cmd.id + `">` + base64.StdEncoding.EncodeToString(stdout) + `</rsp:Stream>`)
	}
	b.WriteString(`<rsp:Stream Name="stdout" CommandId="` + cmd.id + `" End="true"></rsp:Stream>`)
	if len(stderr) > 0 {
		b.WriteString(`<rsp:Stream Name="stderr" CommandId="` + cmd.id + `">` + base64.StdEncoding.EncodeToString(stderr) + `</rsp:Stream>`)
	}
	b.WriteString(`<rsp:Stream Name="stderr" CommandId="` + cmd.id + `" End="true"></rsp:Stream>`)
	b.WriteString(`<rsp:CommandState CommandId="` + cmd.id + `" State="` + wsStateDone + `"><rsp:ExitCode>` + strconv.Itoa(code) + `</rsp:ExitCode></rsp:CommandState>`)
	b.WriteString(`</rsp:ReceiveResponse>`)
	w.writeSOAP(rw, http.StatusOK, wsNSShell+"/ReceiveResponse", env.Header.MessageID, b.String())
}

func (w *WSMan) signal(rw http.ResponseWriter, env *wsEnvelope) {
	sh := w.lookup(rw, env)
	if sh == nil {
		return
	}
	if env.Body.Signal != nil {
		w.mu.Lock()
		cmd := sh.commands[env.Body.Signal.CommandID]
		sh.signals = append(sh.signals, strings.TrimSpace(env.Body.Signal.Code))
		if cmd != nil {
			sh.done = sh.done || wsClosed(cmd.done)
		}
		w.mu.Unlock()
		if cmd != nil {
			w.stop(cmd)
		}
	}
	w.writeSOAP(rw, http.StatusOK, wsNSShell+"/SignalResponse", env.Header.MessageID, `<rsp:SignalResponse/>`)
}

func (w *WSMan) delete(rw http.ResponseWriter, env *wsEnvelope) {
	sh := w.lookup(rw, env)
	if sh == nil {
		return
	}
	w.mu.Lock()
	delete(w.shells, sh.id)
	sh.deleted = true
	cmds := make([]*wsCommand, 0, len(sh.commands))
	for _, c := range sh.commands {
		cmds = append(cmds, c)
		if len(sh.signals) == 0 {
			sh.done = sh.done || wsClosed(c.done)
		}
	}
	w.mu.Unlock()
	for _, c := range cmds {
		w.stop(c)
	}
	w.writeSOAP(rw, http.StatusOK, wsNSTransfer+"/DeleteResponse", env.Header.MessageID, "")
}

// wsClosed reports whether ch is closed.
func wsClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// stop terminates a command: its handler's context ends and it reports exit code 1 if it
// had not finished yet (a real terminated process reports its own code).
func (w *WSMan) stop(cmd *wsCommand) {
	w.mu.Lock()
	cancel := cmd.cancel
	w.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	w.finish(cmd, nil, nil, 1)
}
