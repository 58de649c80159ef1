package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/remote"
)

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := remote.Credentials{User: `LAB\u`, Password: "pw-12345"}
	for _, tc := range []struct {
		name  string
		cfg   remote.Config
		creds remote.Credentials
		want  string // substring of the error; "" = accepted
	}{
		{"defaults", remote.Config{}, creds, ""},
		{"basic-over-http", remote.Config{HTTP: true, Auth: remote.AuthBasic}, creds, "Basic authentication over plain HTTP is refused"},
		{"kerberos-over-http", remote.Config{HTTP: true, Auth: remote.AuthKerberos}, creds, ""}, // always sealed
		{"negotiate-over-http", remote.Config{HTTP: true, Auth: remote.AuthNegotiate}, remote.Credentials{}, "negotiate authentication over plain HTTP is refused"},
		{"ntlm-over-http", remote.Config{HTTP: true, Auth: remote.AuthNTLM}, creds, ""},
		{"ntlm-sealed-over-http", remote.Config{HTTP: true, NTLMEncryption: true}, creds, ""},
		{"credssp", remote.Config{Auth: "CredSSP"}, creds, "CredSSP is not supported"},
		{"unknown-auth", remote.Config{Auth: "digest"}, creds, `unknown WinRM authentication "digest"`},
		{"bad-port", remote.Config{Port: 70000}, creds, "port 70000 is out of range"},
		{"tls-on-http", remote.Config{HTTP: true, Insecure: true}, creds, "TLS settings"},
		{"missing-ca-file", remote.Config{CAFile: filepath.Join(dir, "nope.pem")}, creds, "cannot read the WinRM CA file"},
		{"ca-file-not-pem", remote.Config{CAFile: notPEM}, creds, "holds no PEM certificate"},
		{"ntlm-no-password", remote.Config{}, remote.Credentials{User: "u"}, "needs a user name and a password"},
		{"basic-no-user", remote.Config{Auth: remote.AuthBasic}, remote.Credentials{Password: "p"}, "needs a user name and a password"},
		{"kerberos-no-password", remote.Config{Auth: remote.AuthKerberos}, remote.Credentials{User: "u@R"}, "needs a password"},
		{"kerberos-ccache", remote.Config{Auth: remote.AuthKerberos, Kerberos: remote.KerberosConfig{CCache: "/tmp/krb5cc"}}, remote.Credentials{}, ""},
		{"negotiate-half-creds", remote.Config{Auth: remote.AuthNegotiate}, remote.Credentials{User: "u"}, "both a user name and a password, or neither"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, err := remote.NewConnector(tc.cfg, tc.creds)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				_ = k.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if exit.Code(err) != exit.Usage {
				t.Errorf("exit code %d, want %d", exit.Code(err), exit.Usage)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	k, err := remote.NewConnector(remote.Config{}, remote.Credentials{User: "u", Password: "pw-12345"})
	if err != nil {
		t.Fatal(err)
	}
	c := k.Config()
	if c.HTTP || c.Port != 5986 || c.Auth != remote.AuthNTLM || c.Insecure || c.ConnectTimeout != remote.DefaultConnectTimeout ||
		c.OperationTimeout != remote.DefaultOperationTimeout || c.PollTimeout != remote.DefaultPollTimeout {
		t.Errorf("defaults %+v", c)
	}
	k, err = remote.NewConnector(remote.Config{HTTP: true}, remote.Credentials{User: "u", Password: "pw-12345"})
	if err != nil || k.Config().Port != 5985 {
		t.Errorf("HTTP default port: %v %v", k.Config().Port, err)
	}
}

func TestNegotiateOutsideWindows(t *testing.T) {
	t.Parallel()
	if runtime.GOOS == "windows" {
		return // covered by the Windows build; SSPI needs a logon session
	}
	_, err := remote.NewConnector(remote.Config{Auth: remote.AuthNegotiate}, remote.Credentials{})
	if err == nil || !strings.Contains(err.Error(), "available on Windows only") || exit.Code(err) != exit.NoPerm {
		t.Errorf("negotiate off Windows: %v (code %d)", err, exit.Code(err))
	}
}

func TestValidHost(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"pc1", "pc1.contoso.com", "PC-01.Contoso.COM.", "10.0.0.1", "::1", "[fe80::1]", "a_b.lab"} {
		if err := remote.ValidHost(h); err != nil {
			t.Errorf("%q refused: %v", h, err)
		}
	}
	for _, h := range []string{"", "http://pc1", "pc1:5985", "pc1/wsman", "pc 1", "user@pc1", "-pc1", "pc1..lab", strings.Repeat("a", 254), "pc1;rm", "pc1\n"} {
		if err := remote.ValidHost(h); err == nil {
			t.Errorf("%q accepted", h)
		}
	}
	k, err := remote.NewConnector(remote.Config{}, remote.Credentials{User: "u", Password: "pw-12345"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Client("http://pc1"); err == nil || exit.Code(err) != exit.Usage {
		t.Errorf("client for a URL: %v", err)
	}
}

func TestCredentialsFromEnv(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PN_PW": "from-env-123"}
	c, err := remote.CredentialsFromEnv(`LAB\u`, "PN_PW", func(k string) string { return env[k] })
	if err != nil || c.User != `LAB\u` || c.Password != "from-env-123" {
		t.Errorf("got %v %v", c, err)
	}
	for _, name := range []string{"", "PN_UNSET"} {
		_, err := remote.CredentialsFromEnv("u", name, func(k string) string { return env[k] })
		if err == nil || exit.Code(err) != exit.Usage {
			t.Errorf("%q: %v", name, err)
		}
		if name != "" && !strings.Contains(err.Error(), name) {
			t.Errorf("the error should name the variable: %v", err)
		}
	}
}

func TestCredentialsFromFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		user, pass    string
		want          string // error substring; "" = ok
	}{
		{"plain", "file-pass-1\n", 0o600, `LAB\cfg`, "file-pass-1", ""},
		{"crlf", "file-pass-2\r\nignored\r\n", 0o400, `LAB\cfg`, "file-pass-2", ""},
		{"json", `{"user": "LAB\\svc", "password": "file-pass-3"}`, 0o600, `LAB\svc`, "file-pass-3", ""},
		{"json-no-user", `{"password": "p{4}"}`, 0o600, `LAB\cfg`, "p{4}", ""},
		{"brace-password", "{not-json-pass\n", 0o600, `LAB\cfg`, "{not-json-pass", ""},
		{"group-readable", "file-pass-5\n", 0o640, "", "", "accessible by group or others"},
		{"world-readable", "file-pass-6\n", 0o644, "", "", "chmod 600"},
		{"empty", "", 0o600, "", "", "is empty"},
		{"json-empty-password", `{"password": ""}`, 0o600, "", "", "empty password"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(dir, tc.name)
			if err := os.WriteFile(p, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			c, err := remote.CredentialsFromFile(`LAB\cfg`, p)
			if tc.want != "" {
				if runtime.GOOS == "windows" && strings.Contains(tc.name, "readable") {
					return // ACLs are not checked on Windows
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) || exit.Code(err) != exit.Usage {
					t.Fatalf("error %v, want %q", err, tc.want)
				}
				if strings.Contains(err.Error(), "file-pass") {
					t.Errorf("the error shows the file's content: %v", err)
				}
				return
			}
			if err != nil || c.User != tc.user || c.Password != tc.pass {
				t.Fatalf("got %v (password ok: %v), %v", c, c.Password == tc.pass, err)
			}
		})
	}
	if _, err := remote.CredentialsFromFile("u", filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
	if _, err := remote.CredentialsFromFile("u", dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}

func TestCredentialsPromptNeedsTerminal(t *testing.T) {
	t.Parallel()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	var out bytes.Buffer
	_, err = remote.CredentialsFromPrompt("u", r, &out)
	if err == nil || !strings.Contains(err.Error(), "no terminal") || out.Len() != 0 {
		t.Errorf("prompt on a pipe: %v, wrote %q", err, out.String())
	}
}

func TestDecodeCLIXML(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"plain text\r\n", "plain text"},
		{"", ""},
		{"#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"Error\">Get-Thing : not found_x000D__x000A_</S><S S=\"Error\">At line:1 char:1_x000D__x000A_</S></Objs>",
			"Get-Thing : not found\nAt line:1 char:1"},
		{"#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><Obj S=\"progress\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.PSCustomObject</T></TN><MS><I64 N=\"SourceId\">1</I64><PR N=\"Record\"><AV>Preparing modules for first use.</AV></PR></MS></Obj><S S=\"Error\">x_x005F_y_x000D__x000A_</S></Objs>",
			"x_y"},
		{"#< CLIXML\r\n<Objs xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><Obj S=\"Error\" RefId=\"0\"><TN RefId=\"0\"><T>System.Management.Automation.ErrorRecord</T></TN><ToString>Access is denied</ToString><Props><S N=\"x\">detail</S></Props></Obj></Objs>",
			"Access is denied"},
		{"#< CLIXML\r\n<Objs><S S=\"Error\">truncated", "truncated"},
		{"#< CLIXML\r\n<Objs><S S=\"Warning\">just a warning</S></Objs>", ""},
	} {
		if got := remote.DecodeCLIXML(tc.in); got != tc.want {
			t.Errorf("DecodeCLIXML(%.50q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    remote.Summary
		code int
		text string
	}{
		{remote.Summary{Total: 3, OK: 3}, 0, "3 hosts: 3 ok, 0 failed; 0 retries, 0s"},
		{remote.Summary{Total: 4, OK: 1, Failed: 3, Retries: 2, ByReason: map[string]int{"timeout": 2, "quota": 1}}, 2, "4 hosts: 1 ok, 3 failed (timeout 2, quota 1); 2 retries, 0s"},
		{remote.Summary{Total: 2, Failed: 2, ByReason: map[string]int{"auth": 2}}, exit.NoPerm, "2 hosts: 0 ok, 2 failed (auth 2); 0 retries, 0s"},
		{remote.Summary{Total: 2, Failed: 2, ByReason: map[string]int{"auth": 1, "tls": 1}}, exit.Failed, "2 hosts: 0 ok, 2 failed (auth 1, tls 1); 0 retries, 0s"},
		{remote.Summary{Total: 2, Failed: 2, ByReason: map[string]int{"unreachable": 2}}, exit.Unavailable, "2 hosts: 0 ok, 2 failed (unreachable 2); 0 retries, 0s"},
		{remote.Summary{Total: 2, Failed: 2, ByReason: map[string]int{"unreachable": 1, "timeout": 1}}, exit.Failed, "2 hosts: 0 ok, 2 failed (timeout 1, unreachable 1); 0 retries, 0s"},
		{remote.Summary{Total: 3, OK: 1, Canceled: 2, Duplicates: 1}, 2, "3 hosts: 1 ok, 0 failed, 2 canceled, 1 duplicates skipped; 0 retries, 0s"},
	} {
		if tc.s.ExitCode() != tc.code || tc.s.String() != tc.text {
			t.Errorf("%+v: code %d %q, want %d %q", tc.s, tc.s.ExitCode(), tc.s.String(), tc.code, tc.text)
		}
	}
}

func TestBackoffIsJitteredAndBounded(t *testing.T) {
	t.Parallel()
	o := remote.FanOutOptions{BackoffBase: 100 * time.Millisecond, BackoffMax: time.Second}
	for n, span := range map[int][2]time.Duration{1: {50, 100}, 2: {100, 200}, 3: {200, 400}, 4: {400, 800}, 5: {500, 1000}, 30: {500, 1000}} {
		seen := map[int64]bool{}
		for range 200 {
			d := time.Duration(remote.Backoff(o, n).Nanoseconds())
			if d < span[0]*time.Millisecond || d > span[1]*time.Millisecond {
				t.Fatalf("retry %d: pause %s outside [%dms, %dms]", n, d, span[0], span[1])
			}
			seen[int64(d)] = true
		}
		if len(seen) < 20 {
			t.Errorf("retry %d: only %d distinct pauses: no jitter", n, len(seen))
		}
	}
}

// A canceled run still gives every host it read exactly one outcome.
func TestFanOutCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	hosts := func(yield func(string) bool) {
		for i := range 100 {
			if !yield("h" + string(rune('a'+i%26)) + string(rune('a'+i/26))) {
				return
			}
		}
	}
	var got []remote.HostResult[int]
	sum := remote.FanOut(ctx, hosts, remote.FanOutOptions{Concurrency: 4}, func(ctx context.Context, host string) (int, error) {
		if started.Add(1) == 6 {
			cancel()
		}
		if started.Load() <= 2 {
			return 1, nil
		}
		<-ctx.Done()
		return 0, ctx.Err()
	}, func(r remote.HostResult[int]) { got = append(got, r) })
	seen := map[string]int{}
	for _, r := range got {
		seen[r.Host]++
		if r.Outcome == remote.OutcomeFailed {
			t.Errorf("%s failed instead of canceled: %v", r.Host, r.Err)
		}
	}
	for h, n := range seen {
		if n != 1 {
			t.Errorf("%s: %d outcomes", h, n)
		}
	}
	if sum.Total != len(got) || sum.OK != 2 || sum.Canceled != sum.Total-2 || sum.Total >= 100 || sum.ExitCode() != exit.Partial {
		t.Errorf("summary %+v for %d results", sum, len(got))
	}
}

func TestFanOutRetriesOnlyTransient(t *testing.T) {
	t.Parallel()
	errs := map[string]error{
		"timeout": &remote.Error{Host: "timeout", Kind: remote.KindTimeout, Message: "slow"},
		"auth":    &remote.Error{Host: "auth", Kind: remote.KindAuth, Message: "no"},
		"script":  &remote.Error{Host: "script", Kind: remote.KindScript, Code: "no-client", Message: "no client"},
		"plain":   errors.New("something else"),
		"dns":     remote.Permanent(&remote.Error{Host: "dns", Kind: remote.KindUnreachable, Message: "no such host"}),
	}
	var calls = map[string]*atomic.Int32{}
	for h := range errs {
		calls[h] = &atomic.Int32{}
	}
	res := map[string]remote.HostResult[struct{}]{}
	sum := remote.FanOut(context.Background(), slices.Values([]string{"timeout", "auth", "script", "plain", "dns"}),
		remote.FanOutOptions{Retries: 3, BackoffBase: time.Microsecond, BackoffMax: time.Microsecond},
		func(_ context.Context, h string) (struct{}, error) { calls[h].Add(1); return struct{}{}, errs[h] },
		func(r remote.HostResult[struct{}]) { res[r.Host] = r })
	for h, want := range map[string]int32{"timeout": 4, "auth": 1, "script": 1, "plain": 1, "dns": 1} {
		if calls[h].Load() != want || res[h].Attempts != int(want) {
			t.Errorf("%s: %d calls, %d attempts, want %d", h, calls[h].Load(), res[h].Attempts, want)
		}
	}
	if sum.ByReason["script:no-client"] != 1 || sum.ByReason["error"] != 1 || sum.ByReason["unreachable"] != 1 || sum.Failed != 5 {
		t.Errorf("summary %+v", sum)
	}
}

func TestFanOutProgress(t *testing.T) {
	t.Parallel()
	hosts := slices.Values([]string{"a", "b", "c", "A"})
	ok := func(context.Context, string) (int, error) { return 1, nil }
	var plain bytes.Buffer
	sum := remote.FanOut(context.Background(), hosts, remote.FanOutOptions{Progress: &plain, Total: 3, Label: "scan"}, ok, nil)
	if sum.Duplicates != 1 || plain.String() != "scan: done 3/3 hosts (3 ok, 0 failed) after 0s\n" {
		t.Errorf("plain progress %q, summary %+v", plain.String(), sum)
	}
	var bar bytes.Buffer
	remote.FanOut(context.Background(), hosts, remote.FanOutOptions{Progress: &bar, IsTerminal: true, Total: 3, Label: "scan"}, ok, nil)
	if !strings.Contains(bar.String(), "scan") || !strings.Contains(bar.String(), "\r") {
		t.Errorf("terminal progress %q", bar.String())
	}
}
