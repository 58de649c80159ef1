package remote_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/gssapi"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/spnego"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/remote"
)

// wireTap records every byte a client's connections send and receive.
type wireTap struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *wireTap) add(p []byte) {
	w.mu.Lock()
	w.b.Write(p)
	w.mu.Unlock()
}

func (w *wireTap) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.b.Bytes())
}

type tapConn struct {
	net.Conn
	w *wireTap
}

func (c tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.w.add(p[:n])
	return n, err
}

func (c tapConn) Write(p []byte) (int, error) {
	c.w.add(p)
	return c.Conn.Write(p)
}

// tapped makes cfg's connections go through a tap.
func tapped(cfg remote.Config) (remote.Config, *wireTap) {
	w := &wireTap{}
	dial := cfg.Dial
	cfg.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return tapConn{c, w}, nil
	}
	return cfg, w
}

// krbLab starts a lab endpoint that accepts tickets for HTTP/<host> from testKDC, with
// service principals for hosts.
func krbLab(t *testing.T, https bool, hosts ...string) *labServer {
	t.Helper()
	for _, h := range hosts {
		if err := testKDC.AddService(t.Context(), h); err != nil {
			t.Fatal(err)
		}
	}
	return startLab(t, lab.OpHandlerFunc(labHandler), lab.WSManOptions{Kerberos: &lab.WSManKerberos{Keytab: testKDC.Keytab}}, https, lab.TestPKIOptions{})
}

// krbConfig is s's client configuration with Kerberos and testKDC's krb5.conf.
func krbConfig(s *labServer) remote.Config {
	cfg := s.config(remote.AuthKerberos)
	cfg.Kerberos.Krb5Conf = testKDC.Krb5Conf
	return cfg
}

func krbCreds() remote.Credentials {
	return remote.Credentials{User: testKDC.Principal(), Password: testKDC.Password}
}

// noSecret fails the test if any text holds the KDC user's password.
func noSecret(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, testKDC.Password) {
			t.Errorf("the Kerberos password appears in %q", s)
		}
	}
}

// TestKerberosRoundTrip runs client actions with tickets from the real KDC against the lab
// endpoint over plain HTTP (sealed) and HTTPS, and reads the wire: over HTTP no SOAP text
// travels in the clear (unsealed NTLM is the control that the tap sees SOAP when there is
// some), the connection is authenticated once and reused, and the host's AP-REP is checked.
func TestKerberosRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		https     bool
		auth      remote.Auth
		clearSOAP bool    // SOAP visible on the wire
		perRun    []int64 // requests of each action on one client
	}{
		{name: "kerberos-http-sealed", auth: remote.AuthKerberos, perRun: []int64{6, 5, 5, 5}},
		{name: "kerberos-https", https: true, auth: remote.AuthKerberos, perRun: []int64{5, 5, 5, 5}},
		{name: "ntlm-http-unsealed-control", auth: remote.AuthNTLM, clearSOAP: true, perRun: []int64{6, 5, 5, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host := "rt-" + tc.name + ".lab.test"
			s := krbLab(t, tc.https, host)
			cfg, tap := tapped(krbConfig(s))
			cfg.Auth = tc.auth
			creds := krbCreds()
			if tc.auth == remote.AuthNTLM {
				creds = labCreds
			}
			c := newClient(t, host, cfg, creds)
			var got []int64
			for i := range tc.perRun {
				before := c.Requests()
				var res echoResult
				params := fmt.Sprintf(`{"ScheduleID":"{00000000-0000-0000-0000-000000000113}","run":%d}`, i)
				if err := c.Run(t.Context(), "client-trigger-schedule", json.RawMessage(params), &res); err != nil {
					t.Fatalf("run %d: %v", i, err)
				}
				if res.Host != host || string(res.Params) != params {
					t.Fatalf("run %d: the host saw %+v", i, res)
				}
				got = append(got, c.Requests()-before)
			}
			st := s.w.Stats()
			if fmt.Sprint(got) != fmt.Sprint(tc.perRun) {
				t.Errorf("requests per action %v, want %v", got, tc.perRun)
			}
			if st.AuthLegs != 0 && tc.auth == remote.AuthKerberos || st.KerberosRefused != 0 {
				t.Errorf("lab: %d 401 answers, %d Kerberos refusals; want none", st.AuthLegs, st.KerberosRefused)
			}
			if c.Connections() != 1 {
				t.Errorf("%d connections, want 1", c.Connections())
			}
			wire := tap.bytes()
			soap := bytes.Contains(wire, []byte("Envelope")) || bytes.Contains(wire, []byte("ShellId"))
			if soap != tc.clearSOAP {
				t.Errorf("SOAP text on the wire: %v, want %v", soap, tc.clearSOAP)
			}
			if tc.auth == remote.AuthKerberos && !tc.https {
				if n := bytes.Count(wire, []byte("Authorization: Negotiate ")); n != 1 {
					t.Errorf("%d Kerberos handshakes on the wire, want 1 (the connection stays authenticated)", n)
				}
				if !bytes.Contains(wire, []byte(`multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted"`)) {
					t.Errorf("no SPNEGO-session-encrypted message on the wire")
				}
			}
			noSecret(t, string(wire))
		})
	}
}

// TestKerberosFailures: a wrong password and an unknown principal end at the KDC with one
// clear line and exit code 77 (Connector.Login) and as an auth failure of the host (Run);
// a host with no service principal, and a ticket for another host's principal, fail as
// auth; a host that cannot prove it holds the service key (a forged AP-REP, or none where
// sealing needs it) is refused. The password never appears.
func TestKerberosFailures(t *testing.T) {
	t.Parallel()
	const host = "fail.lab.test"
	s := krbLab(t, false, host, "other.lab.test")

	t.Run("kdc", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			creds remote.Credentials
			want  string
		}{
			{"wrong-password", remote.Credentials{User: testKDC.Principal(), Password: "not-" + testKDC.Password}, "the KDC refused the password"},
			{"unknown-principal", remote.Credentials{User: "nobody@LAB.TEST", Password: testKDC.Password}, "the KDC does not know this principal"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				k, err := remote.NewConnector(krbConfig(s), tc.creds)
				if err != nil {
					t.Fatal(err)
				}
				loginErr := k.Login(t.Context())
				err = loginErr
				var xe *exit.Error
				if !errors.As(err, &xe) || xe.Code != exit.NoPerm || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Login: %v; want exit %d saying %q", err, exit.NoPerm, tc.want)
				}
				if strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), "(check ") {
					t.Errorf("Login error %q is not one line with what to do", err)
				}
				c, err := k.Client(host)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				runErr := c.Run(t.Context(), "client-logged-on", nil, nil)
				if runErr == nil {
					t.Fatal("Run succeeded")
				}
				var re *remote.Error
				if !errors.As(runErr, &re) || re.Kind != remote.KindAuth || !strings.Contains(runErr.Error(), tc.want) {
					t.Errorf("Run: %v; want an auth failure saying %q", runErr, tc.want)
				}
				if remote.IsTransient(runErr) {
					t.Errorf("a KDC refusal must not be retried")
				}
				noSecret(t, loginErr.Error(), fmt.Sprintf("%v %+v %#v", loginErr, loginErr, loginErr), runErr.Error(), fmt.Sprintf("%+v %#v", runErr, runErr))
			})
		}
	})

	t.Run("host", func(t *testing.T) {
		t.Parallel()
		t.Cleanup(func() { // after the parallel subtests
			if st := s.w.Stats(); st.KerberosRefused != 1 {
				t.Errorf("the lab refused %d tickets, want 1 (the one for other.lab.test)", st.KerberosRefused)
			}
		})
		for _, tc := range []struct {
			name, host, spn, want string
		}{
			{"no-service-principal", "nospn.lab.test", "", "the KDC has no service principal HTTP/nospn.lab.test"},
			{"ticket-for-another-host", host, "HTTP/other.lab.test", "authentication failed for " + host},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				cfg := krbConfig(s)
				cfg.Kerberos.SPN = tc.spn
				c := newClient(t, tc.host, cfg, krbCreds())
				err := c.Run(t.Context(), "client-logged-on", nil, nil)
				var re *remote.Error
				if !errors.As(err, &re) || re.Kind != remote.KindAuth || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Run: %v; want an auth failure saying %q", err, tc.want)
				}
				noSecret(t, err.Error())
			})
		}
	})

	t.Run("mutual-authentication", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			name  string
			token func() []byte
			want  string
		}{
			{"forged-ap-rep", forgedAPRep(t), "does not decrypt with the session key"},
			{"no-ap-rep", func() []byte { return nil }, "sent no AP-REP"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				// A host that accepts any ticket without the service key.
				var served int
				var mu sync.Mutex
				ts := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					mu.Lock()
					served++
					mu.Unlock()
					if r.Header.Get("Authorization") == "" {
						rw.WriteHeader(http.StatusUnauthorized)
						return
					}
					if tok := tc.token(); tok != nil {
						rw.Header().Set("WWW-Authenticate", "Negotiate "+base64.StdEncoding.EncodeToString(tok))
					}
					rw.Header().Set("Content-Type", "application/soap+xml;charset=UTF-8")
					rw.WriteHeader(http.StatusOK)
				}))
				defer ts.Close()
				cfg := krbConfig(s)
				cfg.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "tcp", ts.Listener.Addr().String())
				}
				c := newClient(t, host, cfg, krbCreds())
				err := c.Run(t.Context(), "client-logged-on", nil, nil)
				var re *remote.Error
				if !errors.As(err, &re) || re.Kind != remote.KindAuth || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("Run: %v; want an auth failure saying %q", err, tc.want)
				}
				mu.Lock()
				defer mu.Unlock()
				if served != 1 {
					t.Errorf("the impostor got %d requests, want 1 (nothing sent after its bad answer)", served)
				}
			})
		}
	})
}

// forgedAPRep returns a SPNEGO answer with a well-formed AP-REP encrypted under a random
// key: what a host without the service key could send.
func forgedAPRep(t *testing.T) func() []byte {
	t.Helper()
	key := types.EncryptionKey{KeyType: etypeID.AES256_CTS_HMAC_SHA1_96, KeyValue: make([]byte, 32)}
	if _, err := rand.Read(key.KeyValue); err != nil {
		t.Fatal(err)
	}
	part, err := asn1.Marshal(messages.EncAPRepPart{CTime: time.Now().UTC().Truncate(time.Second), Subkey: key, SequenceNumber: 7})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := crypto.GetEncryptedData(asn1tools.AddASNAppTag(part, asnAppTag.EncAPRepPart), key, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := asn1.Marshal(messages.APRep{PVNO: 5, MsgType: msgtype.KRB_AP_REP, EncPart: enc})
	if err != nil {
		t.Fatal(err)
	}
	oid, _ := asn1.Marshal(gssapi.OIDKRB5.OID())
	mech := asn1tools.AddASNAppTag(append(append(oid, 0x02, 0x00), asn1tools.AddASNAppTag(rep, asnAppTag.APREP)...), 0)
	resp := spnego.NegTokenResp{NegState: asn1.Enumerated(spnego.NegStateAcceptCompleted), SupportedMech: gssapi.OIDKRB5.OID(), ResponseToken: mech}
	b, err := resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return func() []byte { return b }
}

// BenchmarkKerberosActions runs one action after another on one client (one kept
// connection) and reports the HTTP requests per action and the time per action, for
// Kerberos (sealed over HTTP, and over HTTPS) next to NTLM. Run with:
// go test -run x -bench KerberosActions -benchtime 300x ./pkg/remote/
func BenchmarkKerberosActions(b *testing.B) {
	for _, tc := range []struct {
		name  string
		https bool
		auth  remote.Auth
		seal  bool
	}{
		{"kerberos-http-sealed", false, remote.AuthKerberos, false},
		{"kerberos-https", true, remote.AuthKerberos, false},
		{"ntlm-http-sealed", false, remote.AuthNTLM, true},
		{"ntlm-https", true, remote.AuthNTLM, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const host = "bench.lab.test"
			if err := testKDC.AddService(b.Context(), host); err != nil {
				b.Fatal(err)
			}
			s := startLab(b, lab.OpHandlerFunc(labHandler), lab.WSManOptions{Kerberos: &lab.WSManKerberos{Keytab: testKDC.Keytab}}, tc.https, lab.TestPKIOptions{})
			cfg := s.config(tc.auth)
			cfg.Kerberos.Krb5Conf = testKDC.Krb5Conf
			cfg.NTLMEncryption = tc.seal
			creds := labCreds
			if tc.auth == remote.AuthKerberos {
				creds = krbCreds()
			}
			c := newClient(b, host, cfg, creds)
			b.ResetTimer()
			for b.Loop() {
				if err := c.Run(b.Context(), "client-trigger-schedule", json.RawMessage(scanParams), nil); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			st := s.w.Stats()
			b.ReportMetric(float64(c.Requests())/float64(st.Commands), "req/action")
			b.ReportMetric(float64(c.Connections()), "connections")
			b.ReportMetric(float64(st.AuthLegs), "401s")
		})
	}
}
