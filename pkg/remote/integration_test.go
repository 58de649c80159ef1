package remote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/remote"
)

// The lab account. The password is distinctive so the leak scan cannot miss it.
const (
	labUser = `LAB\patcher`
	labPass = "S3cret-Lab-Passw0rd!"
)

var labCreds = remote.Credentials{User: labUser, Password: labPass}

// recorder keeps every text the product produced in a test run (errors, summaries,
// progress output, log lines) for the password scan.
type recorder struct {
	mu    sync.Mutex
	texts []string
}

func (r *recorder) add(s ...string) {
	r.mu.Lock()
	r.texts = append(r.texts, s...)
	r.mu.Unlock()
}

// err records every rendering of an error.
func (r *recorder) err(err error) {
	if err != nil {
		r.add(err.Error(), fmt.Sprintf("%v %+v %#v %s %q", err, err, err, err, err))
		var e *remote.Error
		if errors.As(err, &e) && e.Err != nil {
			r.add(e.Err.Error())
		}
	}
}

// scan fails the test if any recorded text holds the password.
func (r *recorder) scan(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.texts) == 0 {
		t.Errorf("the leak scan saw no text: the recording is broken")
	}
	for _, s := range r.texts {
		if strings.Contains(s, labPass) {
			t.Errorf("the password appears in output: %q", s)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// labServer is a lab WS-Man endpoint on loopback; every host name dials it.
type labServer struct {
	w   *lab.WSMan
	ts  *httptest.Server
	pki *lab.TestPKI
}

func startLab(t testing.TB, h lab.OpHandler, opts lab.WSManOptions, https bool, pkiOpts lab.TestPKIOptions) *labServer {
	t.Helper()
	if opts.Users == nil {
		opts.Users = map[string]string{labUser: labPass, "localadmin": labPass}
	}
	w := lab.NewWSMan(h, opts)
	ts := httptest.NewUnstartedServer(w)
	ts.Config.ErrorLog = nil
	w.Attach(ts.Config)
	s := &labServer{w: w, ts: ts}
	if https {
		if pkiOpts.Names == nil {
			pkiOpts.Names = []string{"*.lab.test", "localhost"}
		}
		pki, err := lab.NewTestPKI(pkiOpts)
		if err != nil {
			t.Fatal(err)
		}
		s.pki = pki
		ts.TLS = pki.ServerTLSConfig()
		ts.StartTLS()
	} else {
		ts.Start()
	}
	t.Cleanup(func() {
		w.Close()
		ts.Close()
	})
	return s
}

func (s *labServer) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", s.ts.Listener.Addr().String())
}

// config returns a client configuration for the lab: HTTPS with the lab CA when the
// server is HTTPS, plain HTTP otherwise.
func (s *labServer) config(auth remote.Auth) remote.Config {
	cfg := remote.Config{Auth: auth, Dial: s.dial, ConnectTimeout: 5 * time.Second, OperationTimeout: 20 * time.Second}
	if s.pki != nil {
		cfg.CAPEM = s.pki.CAPEM
	} else {
		cfg.HTTP = true
	}
	return cfg
}

// echoResult is what labHandler returns for a successful operation.
type echoResult struct {
	Host   string          `json:"host"`
	Op     string          `json:"op"`
	Params json.RawMessage `json:"params"`
}

type codedErr struct{ code, msg string }

func (e codedErr) Error() string     { return e.msg }
func (e codedErr) ErrorCode() string { return e.code }

// labHandler echoes, except for hosts whose name asks for a failure.
func labHandler(_ context.Context, host, op string, params json.RawMessage) (json.RawMessage, error) {
	switch {
	case strings.HasPrefix(host, "noclient"):
		return nil, codedErr{"no-client", "the ConfigMgr client is not installed (WMI namespace root\\ccm is missing)"}
	case strings.HasPrefix(host, "crash"):
		return nil, &lab.StderrError{Text: "Invoke-CimMethod : Access denied\nAt line:1 char:1\n+ Invoke-CimMethod -Namespace root\\ccm"}
	case strings.HasPrefix(host, "garbage"):
		return json.RawMessage("<html>"), nil
	}
	return json.Marshal(echoResult{Host: host, Op: op, Params: params})
}

// labFaults injects faults by host name prefix.
func labFaults(host string) lab.Fault {
	prefixes := []struct {
		p string
		f lab.Fault
	}{
		{"hang", lab.Fault{Kind: lab.FaultHang}},
		{"quota", lab.Fault{Kind: lab.FaultQuota}},
		{"reset1", lab.Fault{Kind: lab.FaultResetReceive, Times: 1}},
		{"reset", lab.Fault{Kind: lab.FaultResetReceive}},
		{"refuse", lab.Fault{Kind: lab.FaultRefuse}},
		{"deny", lab.Fault{Kind: lab.FaultUnauthorized}},
		{"drop1", lab.Fault{Kind: lab.FaultDropAfterChallenge, Times: 1}},
		{"drop", lab.Fault{Kind: lab.FaultDropAfterChallenge}},
	}
	for _, x := range prefixes {
		if strings.HasPrefix(host, x.p) {
			return x.f
		}
	}
	return lab.Fault{}
}

func newClient(t testing.TB, host string, cfg remote.Config, creds remote.Credentials) *remote.Client {
	t.Helper()
	c, err := remote.New(host, cfg, creds)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func wantKind(t *testing.T, rec *recorder, err error, kind remote.Kind) *remote.Error {
	t.Helper()
	rec.err(err)
	var e *remote.Error
	if !errors.As(err, &e) {
		t.Fatalf("want a *remote.Error of kind %s, got %T %v", kind, err, err)
	}
	if e.Kind != kind {
		t.Fatalf("want kind %s, got %s: %v", kind, e.Kind, err)
	}
	return e
}

func TestIntegration(t *testing.T) {
	rec := &recorder{}
	t.Cleanup(func() { rec.scan(t) })

	t.Run("auth-modes", func(t *testing.T) { t.Parallel(); testAuthModes(t, rec) })
	t.Run("wrong-password", func(t *testing.T) { t.Parallel(); testWrongPassword(t, rec) })
	t.Run("tls-failures", func(t *testing.T) { t.Parallel(); testTLSFailures(t, rec) })
	t.Run("hang-times-out", func(t *testing.T) { t.Parallel(); testHang(t, rec) })
	t.Run("transient-faults", func(t *testing.T) { t.Parallel(); testTransientFaults(t, rec) })
	t.Run("long-script", func(t *testing.T) { t.Parallel(); testLongScript(t, rec) })
	t.Run("params-byte-identical", func(t *testing.T) { t.Parallel(); testParams(t, rec) })
	t.Run("script-errors", func(t *testing.T) { t.Parallel(); testScriptErrors(t, rec) })
	t.Run("cancel", func(t *testing.T) { t.Parallel(); testCancel(t, rec) })
	t.Run("fanout-1000", func(t *testing.T) { t.Parallel(); testFanOut1000(t, rec) })
	t.Run("credential-renderings", func(t *testing.T) { t.Parallel(); testCredentialRenderings(t, rec) })
	t.Run("dropped-handshake", func(t *testing.T) { t.Parallel(); testDroppedHandshake(t, rec) })
}

// A connection dropped between the NTLM legs (the AUTHENTICATE lands on a new connection,
// which has no challenge) is not refused credentials: the handshake starts again once, in
// the same Run, over HTTPS and sealed over HTTP. A host that drops every time stays an
// authentication failure after that one new start.
func testDroppedHandshake(t *testing.T, rec *recorder) {
	for _, tc := range []struct {
		name  string
		https bool
		seal  bool
	}{{"https", true, false}, {"http-sealed", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{Faults: labFaults}, tc.https, lab.TestPKIOptions{})
			cfg := s.config(remote.AuthNTLM)
			cfg.NTLMEncryption = tc.seal
			var r echoResult
			err := newClient(t, "drop1.lab.test", cfg, labCreds).Run(context.Background(), "client-trigger-schedule", json.RawMessage(scanParams), &r)
			rec.err(err)
			if err != nil || r.Host != "drop1.lab.test" {
				t.Fatalf("one dropped handshake: %+v, %v", r, err)
			}
			if n := s.w.Stats().Faults[lab.FaultDropAfterChallenge.String()]; n != 1 {
				t.Errorf("the fault fired %d times, want 1", n)
			}
			err = newClient(t, "drop.lab.test", cfg, labCreds).Run(context.Background(), "client-trigger-schedule", json.RawMessage(scanParams), nil)
			wantKind(t, rec, err, remote.KindAuth)
			if n := s.w.Stats().Faults[lab.FaultDropAfterChallenge.String()]; n != 3 {
				t.Errorf("the fault fired %d times in all, want 3 (one new start only)", n)
			}
		})
	}
}

const scanParams = `{"ScheduleID":"{00000000-0000-0000-0000-000000000113}"}`

// Each auth mode runs the real client against the lab; the endpoint counts requests.
func testAuthModes(t *testing.T, rec *recorder) {
	for _, tc := range []struct {
		name    string
		https   bool
		auth    remote.Auth
		user    string
		seal    bool
		krb     bool    // Kerberos with a ticket from testKDC (sealed over HTTP)
		perRun  []int64 // requests of the 1st, 2nd and 3rd action on one client
		authLeg int64   // 401 answers over the three actions
	}{
		{name: "ntlm-http", auth: remote.AuthNTLM, user: labUser, perRun: []int64{6, 5, 5}, authLeg: 1},
		{name: "ntlm-http-upn", auth: remote.AuthNTLM, user: "patcher@lab", perRun: []int64{6, 5, 5}, authLeg: 1},
		{name: "ntlm-https", https: true, auth: remote.AuthNTLM, user: labUser, perRun: []int64{6, 5, 5}, authLeg: 1},
		{name: "basic-https", https: true, auth: remote.AuthBasic, user: "localadmin", perRun: []int64{5, 5, 5}},
		{name: "kerberos-https", https: true, auth: remote.AuthKerberos, krb: true, perRun: []int64{5, 5, 5}},
		{name: "kerberos-http-sealed", auth: remote.AuthKerberos, krb: true, perRun: []int64{6, 5, 5}},
		{name: "ntlm-http-sealed", auth: remote.AuthNTLM, user: labUser, seal: true, perRun: []int64{7, 5, 5}, authLeg: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := lab.WSManOptions{}
			creds := remote.Credentials{User: tc.user, Password: labPass}
			if tc.krb {
				if err := testKDC.AddService(t.Context(), "pc0001.lab.test"); err != nil {
					t.Fatal(err)
				}
				opts.Kerberos = &lab.WSManKerberos{Keytab: testKDC.Keytab}
				creds = remote.Credentials{User: testKDC.Principal(), Password: testKDC.Password}
			}
			s := startLab(t, lab.OpHandlerFunc(labHandler), opts, tc.https, lab.TestPKIOptions{})
			cfg := s.config(tc.auth)
			cfg.NTLMEncryption = tc.seal
			cfg.Kerberos.Krb5Conf = testKDC.Krb5Conf
			k, err := remote.NewConnector(cfg, creds)
			if err != nil {
				t.Fatal(err)
			}
			c, err := k.Client("pc0001.lab.test")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var got []int64
			for i := range 3 {
				before := c.Requests()
				var res echoResult
				err := c.Run(context.Background(), "client-trigger-schedule", json.RawMessage(scanParams), &res)
				rec.err(err)
				if err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				if res.Host != "pc0001.lab.test" || res.Op != "client-trigger-schedule" || string(res.Params) != scanParams {
					t.Fatalf("run %d: the host saw %+v", i, res)
				}
				got = append(got, c.Requests()-before)
			}
			st := s.w.Stats()
			t.Logf("%s: requests per action %v (lab: %d requests, %d auth legs, by action %v)", tc.name, got, st.Requests, st.AuthLegs, st.ByAction)
			if !slices.Equal(got, tc.perRun) {
				t.Errorf("requests per action %v, want %v", got, tc.perRun)
			}
			if st.Requests != got[0]+got[1]+got[2] || st.AuthLegs != tc.authLeg || st.ByOp["client-trigger-schedule"] != st.Requests {
				t.Errorf("lab counted %+v", st)
			}
			if c.Connections() != 1 {
				t.Errorf("%d connections for 3 actions, want 1", c.Connections())
			}
		})
	}
}

func testWrongPassword(t *testing.T, rec *recorder) {
	for _, tc := range []struct {
		name  string
		https bool
		auth  remote.Auth
		user  string
		host  string
	}{
		{"ntlm-http", false, remote.AuthNTLM, labUser, "pc0002.lab.test"},
		{"basic-https", true, remote.AuthBasic, "localadmin", "pc0003.lab.test"},
		{"ntlm-unknown-user", false, remote.AuthNTLM, `LAB\nobody`, "pc0004.lab.test"},
		{"401-fault", false, remote.AuthNTLM, labUser, "deny1.lab.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{Faults: labFaults}, tc.https, lab.TestPKIOptions{})
			pass := "not-the-" + labPass
			if tc.name == "401-fault" {
				pass = labPass
			}
			c := newClient(t, tc.host, s.config(tc.auth), remote.Credentials{User: tc.user, Password: pass})
			err := c.Run(context.Background(), "client-logged-on", nil, nil)
			e := wantKind(t, rec, err, remote.KindAuth)
			want := "authentication failed for " + tc.host + " as " + tc.user
			if e.Message != want {
				t.Errorf("message %q, want %q", e.Message, want)
			}
			if code := exit.Code(err); code != exit.NoPerm {
				t.Errorf("exit code %d, want %d (authentication refused)", code, exit.NoPerm)
			}
			if strings.Contains(err.Error(), "not-the-") || strings.Contains(err.Error(), "invalid content type") {
				t.Errorf("error %q", err)
			}
			if remote.IsTransient(err) {
				t.Errorf("an auth failure must not be retried")
			}
			if st := s.w.Stats(); st.Commands != 0 {
				t.Errorf("a script ran: %+v", st)
			}
		})
	}
}

func testTLSFailures(t *testing.T, rec *recorder) {
	for _, tc := range []struct {
		name    string
		pki     lab.TestPKIOptions
		mutate  func(*remote.Config)
		message string
		hint    string
	}{
		{"untrusted", lab.TestPKIOptions{}, func(c *remote.Config) { c.CAPEM = nil }, "not trusted", "CA file"},
		{"wrong-name", lab.TestPKIOptions{Names: []string{"other.example"}}, func(*remote.Config) {}, "does not match", "server name"},
		{"expired", lab.TestPKIOptions{Expired: true}, func(*remote.Config) {}, "expired", "renew"},
		{"server-name-override", lab.TestPKIOptions{Names: []string{"wsman.lab.test"}}, func(c *remote.Config) { c.TLSServerName = "wrong.lab.test" }, "does not match", "server name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{}, true, tc.pki)
			cfg := s.config(remote.AuthBasic)
			tc.mutate(&cfg)
			c := newClient(t, "pc0005.lab.test", cfg, remote.Credentials{User: "localadmin", Password: labPass})
			e := wantKind(t, rec, c.Run(context.Background(), "client-logged-on", nil, nil), remote.KindTLS)
			if !strings.Contains(e.Message, tc.message) || !strings.Contains(e.Hint, tc.hint) {
				t.Errorf("message %q hint %q", e.Message, e.Hint)
			}
			if remote.IsTransient(e) {
				t.Errorf("TLS failures must not be retried")
			}
		})
	}
	// The override itself works: a certificate for wsman.lab.test accepted for any host.
	t.Run("override-ok", func(t *testing.T) {
		t.Parallel()
		s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{}, true, lab.TestPKIOptions{Names: []string{"wsman.lab.test"}})
		cfg := s.config(remote.AuthBasic)
		cfg.TLSServerName = "wsman.lab.test"
		c := newClient(t, "pc0006.lab.test", cfg, remote.Credentials{User: "localadmin", Password: labPass})
		err := c.Run(context.Background(), "client-logged-on", nil, nil)
		rec.err(err)
		if err != nil {
			t.Fatal(err)
		}
	})
}

// A host that never answers: Run returns a timeout soon after the deadline.
func testHang(t *testing.T, rec *recorder) {
	s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{Faults: labFaults}, false, lab.TestPKIOptions{})
	cfg := s.config(remote.AuthNTLM)
	cfg.OperationTimeout = 300 * time.Millisecond
	c := newClient(t, "hang1.lab.test", cfg, labCreds)
	start := time.Now()
	e := wantKind(t, rec, c.Run(context.Background(), "client-logged-on", nil, nil), remote.KindTimeout)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %s after a 300ms deadline", took)
	}
	if !e.Transient() {
		t.Errorf("a timeout is transient")
	}
	// A hang in the middle of the script (the host accepted the command, the script never
	// finishes): the Receive long polls are cut off by the deadline too.
	block := make(chan struct{})
	defer close(block)
	s2 := startLab(t, lab.OpHandlerFunc(func(ctx context.Context, _, _ string, _ json.RawMessage) (json.RawMessage, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil, errors.New("released")
	}), lab.WSManOptions{ReceiveTimeout: 20 * time.Millisecond}, false, lab.TestPKIOptions{})
	cfg = s2.config(remote.AuthNTLM)
	cfg.OperationTimeout = 2 * time.Second
	c2 := newClient(t, "pc0007.lab.test", cfg, labCreds)
	wantKind(t, rec, c2.Run(context.Background(), "client-logged-on", nil, nil), remote.KindTimeout)
	if n := s2.w.Stats().ByAction["Receive"]; n < 2 {
		t.Errorf("%d Receive requests: the long poll was not repeated", n)
	}
}

func testTransientFaults(t *testing.T, rec *recorder) {
	s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{Faults: labFaults}, false, lab.TestPKIOptions{})
	cfg := s.config(remote.AuthNTLM)
	k, err := remote.NewConnector(cfg, labCreds)
	if err != nil {
		t.Fatal(err)
	}
	run := func(ctx context.Context, host string) (echoResult, error) {
		c, err := k.Client(host)
		if err != nil {
			return echoResult{}, err
		}
		defer c.Close()
		var r echoResult
		return r, c.Run(ctx, "client-trigger-schedule", json.RawMessage(scanParams), &r)
	}
	// Single runs: each fault gives its kind.
	for host, kind := range map[string]remote.Kind{
		"quota9.lab.test":  remote.KindQuota,
		"reset9.lab.test":  remote.KindUnreachable,
		"refuse9.lab.test": remote.KindUnreachable,
	} {
		_, err := run(context.Background(), host)
		wantKind(t, rec, err, kind)
	}
	// A port where nothing listens: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	cfgDead := cfg
	cfgDead.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", dead)
	}
	cd := newClient(t, "down.lab.test", cfgDead, labCreds)
	refused := cd.Run(context.Background(), "client-logged-on", nil, nil)
	if e := wantKind(t, rec, refused, remote.KindUnreachable); e.Code != "refused" || !e.Transient() || e.Hint == "" {
		t.Errorf("refused: %+v", e)
	}
	// The exit code is decided here, where the failure is understood: a port that refuses
	// is an unreachable dependency (69), through any wrapping.
	if code := exit.Code(fmt.Errorf("scan: %w", refused)); code != exit.Unavailable {
		t.Errorf("connection refused: exit code %d, want %d", code, exit.Unavailable)
	}

	// Through FanOut: quota is retried and stays quota, a one-time reset is retried and
	// succeeds, auth and script failures are not retried.
	hosts := []string{"quota1.lab.test", "reset1a.lab.test", "pc0010.lab.test", "deny2.lab.test", "noclient1.lab.test"}
	var got []remote.HostResult[echoResult]
	sum := remote.FanOut(context.Background(), slices.Values(hosts), remote.FanOutOptions{Retries: 2, BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond}, run,
		func(r remote.HostResult[echoResult]) { got = append(got, r) })
	rec.add(sum.String())
	want := map[string]struct {
		outcome  remote.Outcome
		reason   string
		attempts int
	}{
		"quota1.lab.test":    {remote.OutcomeFailed, "quota", 3},
		"reset1a.lab.test":   {remote.OutcomeOK, "", 2},
		"pc0010.lab.test":    {remote.OutcomeOK, "", 1},
		"deny2.lab.test":     {remote.OutcomeFailed, "auth", 1},
		"noclient1.lab.test": {remote.OutcomeFailed, "script:no-client", 1},
	}
	if len(got) != len(hosts) {
		t.Fatalf("%d results for %d hosts", len(got), len(hosts))
	}
	for _, r := range got {
		rec.err(r.Err)
		w := want[r.Host]
		if r.Outcome != w.outcome || r.Reason != w.reason || r.Attempts != w.attempts {
			t.Errorf("%s: outcome %s reason %q attempts %d, want %+v (err %v)", r.Host, r.Outcome, r.Reason, r.Attempts, w, r.Err)
		}
	}
	if sum.OK != 2 || sum.Failed != 3 || sum.Retries != 3 || sum.ExitCode() != 2 {
		t.Errorf("summary %s, exit %d", sum, sum.ExitCode())
	}
}

func testLongScript(t *testing.T, rec *recorder) {
	var mu sync.Mutex
	var seen string
	s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{OnScript: func(_, _, script string) {
		mu.Lock()
		seen = script
		mu.Unlock()
	}}, false, lab.TestPKIOptions{})
	var b strings.Builder
	b.WriteString("# patchnight-op: long-test/1\nparam($p)\n")
	for i := 0; b.Len() < 32_000; i++ {
		fmt.Fprintf(&b, "$v%d = 'line %d with quotes \" '' and `backticks` and $(sub) and unicode \u00e9\u4e2d'\n", i, i)
	}
	script := b.String()
	c := newClient(t, "pc0011.lab.test", s.config(remote.AuthNTLM), labCreds)
	before := c.Requests()
	var res echoResult
	err := c.RunText(context.Background(), script, nil, &res)
	rec.err(err)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if seen != script {
		t.Fatalf("the script arrived changed: %d bytes sent, %d received", len(script), len(seen))
	}
	if res.Op != "long-test" {
		t.Errorf("op %q", res.Op)
	}
	// The script goes base64 on stdin, in Send chunks whose base64 fits MaxEnvelopeSize.
	t.Logf("%d-byte script: %d requests", len(script), c.Requests()-before)
}

func testParams(t *testing.T, rec *recorder) {
	s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{}, false, lab.TestPKIOptions{})
	c := newClient(t, "pc0012.lab.test", s.config(remote.AuthNTLM), labCreds)
	params := map[string]any{
		"quotes":    `single ' double " both '" done`,
		"backticks": "`n `$x ``",
		"subexpr":   "$(Remove-Item C:\\ -Recurse) @(1) ${env:PATH} $null; exit 1",
		"newlines":  "line1\nline2\r\nline3\ttab\x00nul",
		"unicode":   "caf\u00e9 \u4e2d\u6587 \U0001F600 \u2028",
		"html":      "<script>&amp;</script>",
		"nested":    map[string]any{"list": []any{1, 2.5, true, nil, "x"}},
	}
	want, err := json.Marshal(params)
	if err != nil {
		t.Fatal(err)
	}
	var res echoResult
	err = c.Run(context.Background(), "client-restart", params, &res)
	rec.err(err)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(res.Params, want) {
		t.Errorf("parameters changed on the way:\n sent %s\n got  %s", want, res.Params)
	}
	// Parameters must be a JSON object.
	wantKind(t, rec, c.Run(context.Background(), "client-restart", []int{1}, nil), remote.KindProtocol)
	// An unknown script is refused before anything is sent.
	wantKind(t, rec, c.Run(context.Background(), "no-such-script", nil, nil), remote.KindProtocol)
}

func testScriptErrors(t *testing.T, rec *recorder) {
	s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{}, false, lab.TestPKIOptions{})
	cfg := s.config(remote.AuthNTLM)
	for _, tc := range []struct {
		host, code, message string
		kind                remote.Kind
	}{
		{"noclient2.lab.test", "no-client", "the ConfigMgr client is not installed (WMI namespace root\\ccm is missing)", remote.KindScript},
		{"crash1.lab.test", "exit-1", "Invoke-CimMethod : Access denied / At line:1 char:1 / + Invoke-CimMethod -Namespace root\\ccm", remote.KindScript},
		{"garbage1.lab.test", "bad-output", "the lab handler returned no JSON", remote.KindScript},
	} {
		c := newClient(t, tc.host, cfg, labCreds)
		e := wantKind(t, rec, c.Run(context.Background(), "client-reboot-pending", nil, nil), tc.kind)
		if e.Code != tc.code || e.Message != tc.message || e.Op != "client-reboot-pending" || e.Host != tc.host {
			t.Errorf("%s: %+v", tc.host, e)
		}
		if e.Transient() {
			t.Errorf("script errors must not be retried")
		}
	}
}

func testCancel(t *testing.T, rec *recorder) {
	started := make(chan struct{})
	var once sync.Once
	s := startLab(t, lab.OpHandlerFunc(func(ctx context.Context, _, _ string, _ json.RawMessage) (json.RawMessage, error) {
		once.Do(func() { close(started) })
		<-ctx.Done()
		return nil, ctx.Err()
	}), lab.WSManOptions{ReceiveTimeout: 50 * time.Millisecond}, false, lab.TestPKIOptions{})
	c := newClient(t, "pc0013.lab.test", s.config(remote.AuthNTLM), labCreds)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, "client-logged-on", nil, nil) }()
	<-started
	cancel()
	e := wantKind(t, rec, <-done, remote.KindCanceled)
	if e.Transient() {
		t.Errorf("a cancel is not transient")
	}
}

// 1,000 hosts, 10% hanging and 5% answering the quota fault: every host gets exactly one
// outcome and the summary counts match the injection.
//
// Every host costs a few milliseconds of CPU on each side; the race detector multiplies
// that, and a host's latency grows with the number of hosts sharing the two cores. The
// deadline that cuts off the hanging hosts must stay well above a healthy host's latency,
// so under -race the same mix runs over 200 hosts at a lower concurrency with a longer
// deadline (the 1,000-host run is the plain `go test`).
func testFanOut1000(t *testing.T, rec *recorder) {
	n, conc, timeout := 1000, 128, 3*time.Second
	if raceEnabled {
		n, conc, timeout = 200, 32, 5*time.Second
	}
	s := startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{Faults: labFaults}, false, lab.TestPKIOptions{})
	cfg := s.config(remote.AuthNTLM)
	cfg.OperationTimeout = timeout
	k, err := remote.NewConnector(cfg, labCreds)
	if err != nil {
		t.Fatal(err)
	}
	hosts := make(chan string)
	go func() {
		defer close(hosts)
		for i := range n {
			switch {
			case i%10 == 3:
				hosts <- fmt.Sprintf("hang%04d.lab.test", i)
			case i%20 == 7:
				hosts <- fmt.Sprintf("quota%04d.lab.test", i)
			default:
				hosts <- fmt.Sprintf("pc%04d.lab.test", i)
			}
		}
		hosts <- "PC0000.lab.test" // a repeat, in other case
	}()
	progress := &lockedBuffer{}
	outcomes := map[string]int{}
	sum := remote.FanOut(context.Background(), remote.Hosts(hosts), remote.FanOutOptions{
		Concurrency: conc, Retries: 1, BackoffBase: time.Millisecond, BackoffMax: 2 * time.Millisecond,
		Progress: progress, LogEvery: time.Second, Total: n, Label: "scan",
	}, func(ctx context.Context, host string) (echoResult, error) {
		c, err := k.Client(host)
		if err != nil {
			return echoResult{}, err
		}
		defer c.Close()
		var r echoResult
		err = c.Run(ctx, "client-trigger-schedule", json.RawMessage(scanParams), &r)
		return r, err
	}, func(r remote.HostResult[echoResult]) {
		outcomes[r.Host]++
		rec.err(r.Err)
		if r.Outcome == remote.OutcomeOK && r.Value.Host != r.Host {
			t.Errorf("%s: result for %s", r.Host, r.Value.Host)
		}
	})
	rec.add(sum.String(), progress.String())
	t.Logf("%d hosts at concurrency %d: %s", n, conc, sum)
	if len(outcomes) != n {
		t.Errorf("%d hosts got an outcome, want %d", len(outcomes), n)
	}
	for h, c := range outcomes {
		if c != 1 {
			t.Errorf("%s got %d outcomes", h, c)
		}
	}
	hang, quota := n/10, n/20
	if sum.Total != n || sum.OK != n-hang-quota || sum.Failed != hang+quota || sum.ByReason["timeout"] != hang ||
		sum.ByReason["quota"] != quota || len(sum.ByReason) != 2 || sum.Duplicates != 1 || sum.Retries != hang+quota || sum.ExitCode() != exit.Partial {
		t.Errorf("summary %+v", sum)
	}
	if want := fmt.Sprintf("scan: done %d/%d hosts (%d ok, %d failed)", n, n, n-hang-quota, hang+quota); !strings.Contains(progress.String(), want) {
		t.Errorf("progress output %q lacks %q", progress.String(), want)
	}
	if st := s.w.Stats(); st.Faults["quota"] != int64(2*quota) || st.Faults["hang"] != int64(2*hang) {
		t.Errorf("lab faults %v (each faulty host tried twice)", st.Faults)
	}
}

// Every way the product renders credentials or logs them.
func testCredentialRenderings(t *testing.T, rec *recorder) {
	c := labCreds
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("connect", "creds", c)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("connect", "creds", c, "ptr", &c)
	texts := []string{
		c.String(), c.GoString(), string(j), logs.String(),
		fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%X|%d|%T", c, c, c, c, c, c, c, c, c),
		fmt.Sprintf("%v|%+v|%#v", &c, &c, []remote.Credentials{c}),
		fmt.Sprintf("%+v", struct{ C remote.Credentials }{c}),
		fmt.Sprint(map[string]remote.Credentials{"k": c}),
	}
	rec.add(texts...)
	for _, s := range texts {
		if strings.Contains(s, labPass) {
			t.Errorf("password in %q", s)
		}
	}
	if !strings.Contains(texts[0], "patcher") {
		t.Errorf("the user name should show: %q", texts[0])
	}
	_ = io.Discard
}
