package remote

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"
)

// transporter carries SOAP messages to one host over one kept-alive connection and
// authenticates that connection. It implements winrm.Transporter, so the library's
// Client accepts it; Run calls post directly to bind every request to its context.
//
// Connection-based authentication (NTLM, Kerberos, SSPI Negotiate): after a handshake the
// connection is remembered as authenticated and later messages go without an
// Authorization header, as Windows keeps the connection authenticated. If such a message
// is answered 401 on the same (reused) connection, the host does not keep authentication,
// and the transporter authenticates every message from then on.
type transporter struct {
	url     string
	cfg     Config
	creds   Credentials
	mech    mechanism              // nil for Basic
	seal    bool                   // message encryption (plain HTTP): NTLM or Kerberos
	roots   *x509.CertPool         // the CA pool parsed once per Connector; nil: parse the endpoint's
	tickets tls.ClientSessionCache // TLS session resumption shared by the Connector's clients; may be nil
	tr      *http.Transport
	bufs    *bufPool // the Connector's message buffers; may be nil

	requests atomic.Int64 // HTTP requests sent
	dials    atomic.Int64 // TCP connections opened

	mu      sync.Mutex
	authed  bool          // the kept-alive connection is authenticated
	persist bool          // the host keeps connections authenticated (until shown otherwise)
	session messageSealer // the sealing session of the authenticated connection
	cur     *sharedBody   // the message of the post under way (t.mu held)
}

// mechanism is a connection-based authentication method (SPNEGO-style HTTP Negotiate).
type mechanism interface {
	// begin starts a security context for a connection. It returns the first token and
	// whether the request that carries it should carry the message body too (false when
	// more legs must follow, as NTLM's NEGOTIATE).
	begin() (secContext, []byte, bool, error)
}

// finisher is a security context that takes the token of the answer that accepted it
// (Kerberos mutual authentication). in is nil when that answer carried none; sealing says
// whether message encryption needs the completed context.
type finisher interface {
	finish(in []byte, sealing bool) error
}

// secContext is one security context in progress.
type secContext interface {
	// step consumes the host's token and returns the next one to send.
	step(in []byte) (out []byte, withBody bool, err error)
	release()
}

// authFailure is a failure to build an authentication token (bad user name format,
// Kerberos login refused, SSPI error): the host never saw valid credentials.
type authFailure struct{ err error }

func (a *authFailure) Error() string { return "authentication: " + a.err.Error() }
func (a *authFailure) Unwrap() error { return a.err }

func newTransporter(url string, cfg Config, creds Credentials, mech mechanism, seal bool) *transporter {
	return &transporter{url: url, cfg: cfg, creds: creds, mech: mech, seal: seal, persist: true}
}

// Transport builds the HTTP transport from the endpoint (winrm.Transporter). TLS: the
// endpoint's CA, Insecure and TLSServerName; timeouts and dialing: the Config.
func (t *transporter) Transport(ep *winrm.Endpoint) error {
	tlsCfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         ep.TLSServerName,
		InsecureSkipVerify: ep.Insecure, //nolint:gosec // only when the configuration says Insecure
		ClientSessionCache: t.tickets,
	}
	if t.roots != nil {
		tlsCfg.RootCAs = t.roots
	} else if len(ep.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ep.CACert) {
			return errors.New("the CA bundle holds no PEM certificate")
		}
		tlsCfg.RootCAs = pool
	}
	t.tr = &http.Transport{
		Proxy:                 nil, // WinRM goes straight to the host: a proxy would break connection-bound auth
		DialContext:           t.dial,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   t.cfg.ConnectTimeout,
		DisableCompression:    true,
		MaxIdleConns:          1,
		MaxIdleConnsPerHost:   1,
		MaxConnsPerHost:       1,
		IdleConnTimeout:       60 * time.Second,
		ExpectContinueTimeout: 0,
		ForceAttemptHTTP2:     false, // WinRM is HTTP/1.1
	}
	return nil
}

// dial opens a TCP connection within the connect timeout, through Config.Dial if set.
func (t *transporter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ConnectTimeout)
	defer cancel()
	t.dials.Add(1)
	if t.cfg.Dial != nil {
		c, err := t.cfg.Dial(ctx, network, addr)
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		return c, nil
	}
	d := net.Dialer{KeepAlive: 30 * time.Second}
	return d.DialContext(ctx, network, addr)
}

// Post sends one message without a deadline (winrm.Transporter). patchnight's own calls
// go through do, bound to their context.
func (t *transporter) Post(_ *winrm.Client, m *soap.SoapMessage) (string, error) {
	return t.post(context.Background(), []byte(m.String()))
}

// close drops the idle connection.
func (t *transporter) close() {
	if t.tr != nil {
		t.tr.CloseIdleConnections()
	}
}

// maxResponse bounds a response body (the requested MaxEnvelopeSize is 150 KB).
const maxResponse = 8 << 20

// post is do for a caller that keeps the answer: it returns it as a string.
func (t *transporter) post(ctx context.Context, body []byte) (string, error) {
	var answer string
	err := t.do(ctx, body, func(a []byte) error {
		answer = string(a)
		return nil
	})
	return answer, err
}

// do sends one SOAP message and hands the SOAP answer of a 200 to parse (nil: the answer
// is not read beyond the status), or returns an *httpStatusError for any other status.
// Requests end when ctx ends. do owns msg: it goes back to the pool once no request
// reads it. The answer passed to parse is valid only during the call.
func (t *transporter) do(ctx context.Context, msg []byte, parse func(answer []byte) error) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	body := newSharedBody(msg, t.bufs)
	t.cur = body
	defer func() {
		t.cur = nil
		body.release()
	}()
	resp, err := t.roundTrip(ctx, msg)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf, err := readBody(t.bufs, resp)
	defer t.bufs.put(buf)
	if err != nil {
		t.authed = false
		return fmt.Errorf("read the answer: %w", err)
	}
	data := buf
	if t.seal && t.session != nil {
		if data, err = t.session.unwrap(resp.Header.Get("Content-Type"), data); err != nil {
			t.authed, t.session = false, nil
			return err
		}
		resp.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
	}
	if resp.StatusCode == http.StatusOK {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/soap+xml" {
			return &httpStatusError{status: resp.StatusCode, body: "answer is not SOAP (" + resp.Header.Get("Content-Type") + ")"}
		}
		if parse == nil {
			return nil
		}
		return parse(data)
	}
	he := &httpStatusError{status: resp.StatusCode, fault: parseFault(data)}
	if he.fault == nil {
		he.body = snippet(data)
	}
	return he
}

// readBody reads an answer's body (at most maxResponse bytes) into a buffer from pool;
// the caller gives the buffer back.
func readBody(pool *bufPool, resp *http.Response) ([]byte, error) {
	n := 0
	if resp.ContentLength > 0 && resp.ContentLength <= maxResponse {
		n = int(resp.ContentLength)
	}
	buf := pool.get(n)
	for len(buf) < maxResponse {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := resp.Body.Read(buf[len(buf):min(cap(buf), maxResponse)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
	return buf, nil
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// roundTrip sends body with whatever authentication the connection needs. A final 401
// becomes an *httpStatusError. t.mu is held.
func (t *transporter) roundTrip(ctx context.Context, body []byte) (*http.Response, error) {
	if t.mech == nil { // Basic: credentials on every request
		return t.send(ctx, body, "Basic "+base64.StdEncoding.EncodeToString([]byte(t.creds.User+":"+t.creds.Password)))
	}
	if t.authed && t.persist {
		wrapped, err := t.wrap(body)
		if err != nil {
			t.authed, t.session = false, nil
			return nil, err
		}
		resp, reused, err := t.sendTraced(ctx, wrapped, "")
		if err != nil {
			t.authed, t.session = false, nil
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized {
			if resp.Close {
				t.authed = false
			}
			return resp, nil
		}
		discard(resp)
		t.authed, t.session = false, nil
		if reused {
			t.persist = false // the host wants credentials on every message
		}
	}
	return t.handshake(ctx, body)
}

// handshake authenticates a connection and sends body on it. A connection-bound handshake
// (NTLM, Kerberos) needs every leg on one connection: when the connection is replaced
// between legs (the host or a proxy closed it) and the host then refuses, the handshake is
// started again once on the new connection, instead of reporting refused credentials.
func (t *transporter) handshake(ctx context.Context, body []byte) (*http.Response, error) {
	resp, err := t.handshakeOnce(ctx, body)
	var moved *connMoved
	if errors.As(err, &moved) {
		return t.handshakeOnce(ctx, body)
	}
	return resp, err
}

// connMoved is a refusal that came on another connection than the handshake's earlier legs.
type connMoved struct{ err error }

func (c *connMoved) Error() string { return c.err.Error() }
func (c *connMoved) Unwrap() error { return c.err }

func (t *transporter) handshakeOnce(ctx context.Context, body []byte) (*http.Response, error) {
	t.session = nil
	var first net.Conn // the connection of the first leg
	moved := false
	refused := func() error {
		err := &httpStatusError{status: http.StatusUnauthorized}
		if moved {
			return &connMoved{err}
		}
		return err
	}
	send := func(b []byte, authz string) (*http.Response, error) {
		resp, conn, err := t.sendConn(ctx, b, authz)
		if first == nil {
			first = conn
		} else if conn != first {
			moved = true
		}
		return resp, err
	}
	sc, tok, withBody, err := t.mech.begin()
	if err != nil {
		return nil, &authFailure{err}
	}
	defer sc.release()
	if t.seal {
		withBody = false // sealing: authenticate with empty messages, then send sealed
	}
	for leg := 0; leg < 6; leg++ {
		var b []byte
		if withBody {
			b = body
		}
		resp, err := send(b, "Negotiate "+base64.StdEncoding.EncodeToString(tok))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusUnauthorized {
			// The token of the accepting answer completes the context (Kerberos: the
			// AP-REP of mutual authentication, which sealing needs).
			if f, ok := sc.(finisher); ok && resp.StatusCode < 300 {
				if err := f.finish(negotiateToken(resp.Header), t.seal); err != nil {
					discard(resp)
					return nil, &authFailure{err}
				}
			}
			if withBody {
				t.authed = !resp.Close
				return resp, nil
			}
			// Authenticated with an empty message (sealing, or a host that accepted the
			// first leg): send the message itself on the authenticated connection.
			discard(resp)
			if resp.StatusCode >= 300 {
				return nil, &httpStatusError{status: resp.StatusCode, body: "answer to the authentication request"}
			}
			if t.seal {
				s, err := sc.(sealer).sealer()
				if err != nil {
					return nil, &authFailure{err}
				}
				t.session = s
			}
			t.authed = true
			wrapped, err := t.wrap(body)
			if err != nil {
				t.authed, t.session = false, nil
				return nil, err
			}
			resp, err = send(wrapped, "")
			if err != nil {
				t.authed, t.session = false, nil
				return nil, err
			}
			if resp.StatusCode == http.StatusUnauthorized {
				discard(resp)
				t.authed, t.session = false, nil
				return nil, refused()
			}
			return resp, nil
		}
		in := negotiateToken(resp.Header)
		discard(resp)
		if in == nil {
			return nil, refused()
		}
		if tok, withBody, err = sc.step(in); err != nil {
			return nil, &authFailure{err}
		}
		if t.seal {
			withBody = false
		}
	}
	return nil, &authFailure{errors.New("the host asked for too many authentication legs")}
}

// wrap seals a message when message encryption is on.
func (t *transporter) wrap(body []byte) ([]byte, error) {
	if t.seal && t.session != nil {
		return t.session.wrap(body)
	}
	return body, nil
}

func (t *transporter) send(ctx context.Context, body []byte, authz string) (*http.Response, error) {
	resp, _, err := t.sendTraced(ctx, body, authz)
	return resp, err
}

// sendTraced sends one HTTP request and reports whether it went over a reused connection.
func (t *transporter) sendTraced(ctx context.Context, body []byte, authz string) (*http.Response, bool, error) {
	var reused bool
	resp, err := t.sendWith(ctx, body, authz, func(i httptrace.GotConnInfo) { reused = i.Reused })
	return resp, reused, err
}

// sendConn sends one HTTP request and reports the connection it went over.
func (t *transporter) sendConn(ctx context.Context, body []byte, authz string) (*http.Response, net.Conn, error) {
	var conn net.Conn
	resp, err := t.sendWith(ctx, body, authz, func(i httptrace.GotConnInfo) { conn = i.Conn })
	return resp, conn, err
}

// sendWith sends one HTTP request; got sees the connection it goes over.
func (t *transporter) sendWith(ctx context.Context, body []byte, authz string, got func(httptrace.GotConnInfo)) (*http.Response, error) {
	trace := &httptrace.ClientTrace{GotConn: got}
	if s := t.cur; s != nil && len(body) > 0 && len(body) == len(s.buf) && &body[0] == &s.buf[0] {
		// The message of the post itself (not a sealed copy): its pooled buffer is held
		// until net/http has written this request (POST is not retried after a write).
		s.hold()
		trace.WroteRequest = func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				s.release()
			}
		}
	}
	ctx = httptrace.WithClientTrace(ctx, trace)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build the request: %w", err)
	}
	ct := "application/soap+xml;charset=UTF-8"
	if t.seal && t.session != nil && len(body) > 0 {
		ct = sealedContentType
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("User-Agent", "patchnight")
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	t.requests.Add(1)
	return t.tr.RoundTrip(req)
}

// discard reads and closes a body so the connection can be reused.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	_ = resp.Body.Close()
}

// negotiateToken returns the token of a "WWW-Authenticate: Negotiate <base64>" (or NTLM,
// or Kerberos) challenge or answer, or nil.
func negotiateToken(h http.Header) []byte {
	for _, v := range h.Values("WWW-Authenticate") {
		scheme, data, ok := strings.Cut(strings.TrimSpace(v), " ")
		if !ok || !(strings.EqualFold(scheme, "Negotiate") || strings.EqualFold(scheme, "NTLM") || strings.EqualFold(scheme, "Kerberos")) {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(data))
		if err == nil && len(b) > 0 {
			return b
		}
	}
	return nil
}
