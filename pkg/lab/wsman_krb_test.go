package lab_test

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/patchnight/patchnight/internal/kdctest"
	"github.com/patchnight/patchnight/pkg/lab"
)

// TestWSManKerberosAcceptor checks the lab's Kerberos acceptor with tokens from gokrb5's
// own SPNEGO initiator (not patchnight's) and tickets from a real MIT KDC: a ticket for the
// target host's HTTP/<host> is accepted and keeps the connection authenticated; the same
// token again (a replay) is refused; a ticket for another host's principal is refused, as
// Windows checks the SPN; a garbage token is refused.
func TestWSManKerberosAcceptor(t *testing.T) {
	t.Parallel()
	kdc, err := kdctest.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kdc.Close)
	for _, h := range []string{"pc1.lab.test", "pc2.lab.test"} {
		if err := kdc.AddService(t.Context(), h); err != nil {
			t.Fatal(err)
		}
	}
	conf, err := config.Load(kdc.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	cl := client.NewWithPassword(kdc.User, kdctest.Realm, kdc.Password, conf, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Destroy)
	token := func(spn string) string {
		s := spnego.SPNEGOClient(cl, spn)
		if err := s.AcquireCred(); err != nil {
			t.Fatal(err)
		}
		ct, err := s.InitSecContext()
		if err != nil {
			t.Fatal(err)
		}
		b, err := ct.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	s := startWSMan(t, lab.OpHandlerFunc(echo), lab.WSManOptions{Kerberos: &lab.WSManKerberos{Keytab: kdc.Keytab}}, nil)

	// post sends an empty authentication request for host through tr (one connection).
	post := func(host, authz string, tr *http.Transport) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+host+"/wsman", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/soap+xml;charset=UTF-8")
		if authz != "" {
			req.Header.Set("Authorization", authz)
		}
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	transport := func() *http.Transport {
		tr := &http.Transport{MaxConnsPerHost: 1, DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", s.ts.Listener.Addr().String())
		}}
		t.Cleanup(tr.CloseIdleConnections)
		return tr
	}

	good := "Negotiate " + token("HTTP/pc1.lab.test")
	tr := transport()
	if code := post("pc1.lab.test", good, tr); code != http.StatusOK {
		t.Fatalf("a good ticket: HTTP %d, want 200", code)
	}
	if code := post("pc1.lab.test", "", tr); code != http.StatusOK {
		t.Errorf("the authenticated connection without a header: HTTP %d, want 200", code)
	}
	for _, tc := range []struct{ name, host, authz string }{
		{"replay", "pc1.lab.test", good},
		{"ticket-for-another-host", "pc2.lab.test", "Negotiate " + token("HTTP/pc1.lab.test")},
		{"garbage", "pc1.lab.test", "Negotiate " + base64.StdEncoding.EncodeToString([]byte("\x60\x03\x06\x01\x00 not a ticket"))},
		{"kerberos-scheme-ntlm-token", "pc1.lab.test", "Kerberos " + base64.StdEncoding.EncodeToString([]byte("NTLMSSP\x00\x01\x00\x00\x00"))},
	} {
		if code := post(tc.host, tc.authz, transport()); code != http.StatusUnauthorized {
			t.Errorf("%s: HTTP %d, want 401", tc.name, code)
		}
	}
	if st := s.w.Stats(); st.KerberosRefused != 3 {
		t.Errorf("%d Kerberos tokens refused, want 3 (replay, wrong host, garbage)", st.KerberosRefused)
	}
}
