package main

import (
	"os"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/internal/kdctest"
	"github.com/patchnight/patchnight/pkg/exit"
)

// testKDC is the package's real MIT KDC on loopback (realm LAB.TEST). Without the MIT
// packages the test binary fails and says what to install (CI installs them).
var testKDC *kdctest.KDC

func TestMain(m *testing.M) { kdctest.Main(m, &testKDC) }

// TestE2EKerberos runs the CLI with auth: kerberos against a lab site whose endpoint takes
// tickets from the real KDC: over plain HTTP (message encryption) and over HTTPS,
// client reboot-pending on one host completes; a wrong password and an unknown principal
// end with exit 77 and one line saying what to do, before any host is tried; the
// password appears in no output and no file.
func TestE2EKerberos(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		http bool
	}{
		{"http-sealed", true},
		{"https", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newLabEnv(t, labSpec{hosts: 60, seed: 43, http: tc.http, kerberos: true})
			host := strings.ToLower(e.rows(`SELECT Name FROM lab_host WHERE IsClient = 1 AND Power = 'on' AND OfflineUntil IS NULL
				ORDER BY ResourceID LIMIT 1`)[0][0]) + ".lab.patchnight.test"
			if err := testKDC.AddService(t.Context(), host); err != nil {
				t.Fatal(err)
			}

			var r clientResult
			e.runJSON(&r, exit.OK, "client", "reboot-pending", "--host", host)
			if len(r.Hosts) != 1 || r.Summary.OK != 1 || r.Hosts[0].Outcome != "ok" {
				t.Fatalf("result %+v, want the host ok", r)
			}
			st := e.site.Stats()
			if st.KerberosRefused != 0 || st.AuthLegs != 0 {
				t.Errorf("lab: %d Kerberos refusals, %d 401 answers; want none", st.KerberosRefused, st.AuthLegs)
			}
			if sealedHandshakes := st.ByAction["Authenticate"]; tc.http && sealedHandshakes != 1 {
				t.Errorf("%d empty authentication requests, want 1 (the sealed handshake)", sealedHandshakes)
			}

			wrong := randomSecret(t)
			e.addSecret(wrong)
			wrongCfg := e.config("wrong-password.yaml", labConfig{credFile: e.writeFile("wrong.credential", wrong+"\n")})
			cfgText, err := os.ReadFile(e.cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			nobodyCfg := e.writeFile("nobody.yaml", strings.Replace(string(cfgText), testKDC.Principal(), "nobody@"+kdctest.Realm, 1))
			for _, bad := range []struct {
				name, cfg, want string
			}{
				{"wrong password", wrongCfg, "patchnight: Kerberos login as " + testKDC.Principal() + " failed: the KDC refused the password (check the password in winrm.password_env or winrm.credential_file)\n"},
				{"unknown principal", nobodyCfg, "patchnight: Kerberos login as nobody@" + kdctest.Realm + " failed: the KDC does not know this principal (check winrm.user (user@REALM) and winrm.realm)\n"},
			} {
				before := e.site.Stats().Requests
				out, stderr, code := e.runConfig(bad.cfg, "client", "reboot-pending", "--host", host, "-o", "json")
				if code != exit.NoPerm || stderr != bad.want || out != "" {
					t.Errorf("%s: exit %d, stderr %q, stdout %q; want exit %d and %q alone", bad.name, code, stderr, out, exit.NoPerm, bad.want)
				}
				if n := e.site.Stats().Requests - before; n != 0 {
					t.Errorf("%s: %d requests reached the hosts; the login fails first", bad.name, n)
				}
			}
		})
	}
}
