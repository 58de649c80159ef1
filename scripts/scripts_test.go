package scripts

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The operation scripts issue 3 asks for.
var wantScripts = []string{
	"client-install-updates",
	"client-logged-on",
	"client-reboot-pending",
	"client-repair",
	"client-restart",
	"client-trigger-schedule",
	"client-update-state",
}

func TestEveryScriptFollowsTheProtocol(t *testing.T) {
	t.Parallel()
	names := Names()
	for _, w := range wantScripts {
		found := false
		for _, n := range names {
			found = found || n == w
		}
		if !found {
			t.Errorf("script %s is missing (have %v)", w, names)
		}
	}
	for _, name := range names {
		// Rules for every script first, then the stricter ones of the client actions.
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			text, err := Get(name)
			if err != nil {
				t.Fatal(err)
			}
			op, v := Op(text)
			if op != name || v < 1 {
				t.Errorf("first line names %q version %d, want %q", op, v, name)
			}
			for _, want := range []string{"\nparam($p)\n", "ConvertTo-Json -Compress", "[Console]::Out.WriteLine("} {
				if !strings.Contains(text, want) {
					t.Errorf("lacks %q", want)
				}
			}
			if !strings.HasPrefix(name, "client-") {
				return // the stricter checks below are for the client action scripts
			}
			if v != 1 {
				t.Errorf("version %d, want 1", v)
			}
			for i, r := range text {
				if r > 0x7e || (r < 0x20 && r != '\n' && r != '\r' && r != '\t') {
					t.Fatalf("non-ASCII or control character %q at byte %d", r, i)
				}
			}
			for _, want := range []string{"error = @{ code = $code; message = $message }", "exit 1"} {
				if !strings.Contains(text, want) {
					t.Errorf("lacks %q", want)
				}
			}
			// No user input may become PowerShell text: nothing is built for
			// Invoke-Expression or a scriptblock from strings.
			for _, bad := range []string{"Invoke-Expression", "iex ", "[ScriptBlock]::Create", "Add-Type"} {
				if strings.Contains(text, bad) {
					t.Errorf("uses %s", bad)
				}
			}
			// Every CIM call goes through the CIM cmdlets (configmgr.md section 6).
			if strings.Contains(text, "Get-WmiObject") || strings.Contains(text, "[wmiclass]") {
				t.Errorf("uses the legacy WMI cmdlets")
			}
			if strings.Count(text, "{") != strings.Count(text, "}") || strings.Count(text, "(") != strings.Count(text, ")") {
				t.Errorf("unbalanced braces or parentheses")
			}
		})
	}
}

func TestScriptFacts(t *testing.T) {
	t.Parallel()
	for name, wants := range map[string][]string{
		"client-trigger-schedule": {`-Namespace 'root\ccm' -ClassName 'SMS_Client' -MethodName 'TriggerSchedule'`, "sScheduleID", `'^\{00000000-0000-0000-0000-000000000[0-9]{3}\}$'`,
			"SendStateMessages", "'{00000000-0000-0000-0000-000000000111}'", "stateMessagesSent ="},
		"client-update-state":    {`-Namespace 'root\ccm\ClientSDK' -ClassName 'CCM_SoftwareUpdate')`, "EvaluationState", "ErrorCode", "PercentComplete", "ArticleID"},
		"client-install-updates": {`-Namespace 'root\ccm\ClientSDK' -ClassName 'CCM_SoftwareUpdate' -Filter 'ComplianceState=0'`, `-ClassName 'CCM_SoftwareUpdatesManager' -MethodName 'InstallUpdates'`, "[ciminstance[]]$missing", "started ="},
		"client-reboot-pending":  {`-ClassName 'CCM_ClientUtilities' -MethodName 'DetermineIfRebootPending'`, "RebootPending", "IsHardRebootPending", "InGracePeriod", "RebootDeadline"},
		"client-restart":         {`-ClassName 'CCM_ClientUtilities' -MethodName 'RestartComputer'`, "OnlyIfNobodyLoggedOn", "users-logged-on", "quser.exe"},
		"client-repair":          {`Get-CimClass -Namespace 'root\ccm' -ClassName 'SMS_Client'`, "CimClassMethods", `-Namespace 'root\ccm' -ClassName 'SMS_Client' -MethodName 'RepairClient'`, "available = $false", "UNCONFIRMED"},
		"client-logged-on":       {"quser.exe", "'console'", "'disconnected'", "'remote'", "Win32_Process"},
	} {
		text, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range wants {
			if !strings.Contains(text, w) {
				t.Errorf("%s lacks %q", name, w)
			}
		}
	}
}

// The schedule ID pattern in the script accepts the documented IDs and nothing else.
func TestScheduleIDPattern(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^\{00000000-0000-0000-0000-000000000[0-9]{3}\}$`)
	for _, ok := range []string{"{00000000-0000-0000-0000-000000000113}", "{00000000-0000-0000-0000-000000000021}", "{00000000-0000-0000-0000-000000000108}"} {
		if !re.MatchString(ok) {
			t.Errorf("%s refused", ok)
		}
	}
	for _, bad := range []string{"113", "{00000000-0000-0000-0000-000000000113}'; Restart-Computer; '", "{00000000-0000-0000-0000-0000000001134}", "{00000000-0000-0000-0000-00000000011A}", ""} {
		if re.MatchString(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "bootstrap", "../go", "client-logged-on.ps1", "nope", `a\b`} {
		if _, err := Get(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", bad, err)
		}
	}
}

func TestOp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		name string
		v    int
	}{
		{"# patchnight-op: client-restart/1\nparam($p)", "client-restart", 1},
		{"# patchnight-op: x/12\r\n", "x", 12},
		{"\ufeff# patchnight-op: bom-first/3", "bom-first", 3},
		{"# patchnight-op: Upper/1", "", 0},
		{"# patchnight-op: name/0", "", 0},
		{"# patchnight-op: name", "", 0},
		{"#patchnight-op: name/1", "", 0},
		{"\n# patchnight-op: name/1", "", 0},
		{"# patchnight-op: name/1 trailing", "", 0},
		{"", "", 0},
	} {
		if n, v := Op(tc.text); n != tc.name || v != tc.v {
			t.Errorf("Op(%q) = %q, %d; want %q, %d", tc.text, n, v, tc.name, tc.v)
		}
	}
}

func TestCommandStaysShortAndDecodes(t *testing.T) {
	t.Parallel()
	cmd := Command()
	// cmd.exe truncates command lines at 8191 characters (go-libraries.md section 2).
	if len(cmd) > 4000 {
		t.Errorf("the bootstrap command line is %d characters", len(cmd))
	}
	if !strings.HasPrefix(cmd, "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ") {
		t.Errorf("command line %.100q", cmd)
	}
	text, err := ParseCommand(cmd)
	if err != nil || text != Bootstrap() {
		t.Fatalf("ParseCommand: %v", err)
	}
	for _, want := range []string{"[Console]::In.ReadToEnd()", "[Convert]::FromBase64String", "ConvertFrom-Json", "[ScriptBlock]::Create", "& $s $p", "exit 1", "exit 0"} {
		if !strings.Contains(text, want) {
			t.Errorf("bootstrap lacks %q", want)
		}
	}
	for _, bad := range []string{"", "cmd.exe /c dir", PowerShell + " -EncodedCommand !!!", PowerShell + " -EncodedCommand QQ=="} {
		if _, err := ParseCommand(bad); !errors.Is(err, ErrBadCommand) {
			t.Errorf("ParseCommand(%q) = %v", bad, err)
		}
	}
}

func TestInputRoundTrip(t *testing.T) {
	t.Parallel()
	script := "# patchnight-op: t/1\nparam($p)\n'quote '' \" `$x $(y)'\r\n\u00e9\u4e2d\n"
	params := []byte(`{"a":"line1\nline2","b":"` + "`$(Remove-Item)" + `'\""}`)
	in := Input(script, params)
	if bytes.Count(in, []byte("\n")) != 2 || !bytes.HasSuffix(in, []byte("\n")) {
		t.Fatalf("framing %q", in)
	}
	if bytes.ContainsAny(in[:len(in)-1], "\r'\"`$") {
		t.Errorf("stdin carries characters a shell or code page could alter: %q", in)
	}
	s, p, err := ParseInput(in)
	if err != nil || s != script || !bytes.Equal(p, params) {
		t.Fatalf("round trip: %q %q %v", s, p, err)
	}
	// CRLF translation on the way does not matter.
	if s, p, err = ParseInput(bytes.ReplaceAll(in, []byte("\n"), []byte("\r\n"))); err != nil || s != script || !bytes.Equal(p, params) {
		t.Errorf("CRLF round trip: %v", err)
	}
	for _, bad := range []string{"", "\n", "e30=\n", "e30=\nnot base64!\n", "!!\nZQ==\n", "e30=\nZQ==\nextra\n", "e30=\n/w==\n"} {
		if _, _, err := ParseInput([]byte(bad)); !errors.Is(err, ErrBadInput) {
			t.Errorf("ParseInput(%q) = %v", bad, err)
		}
	}
}

func FuzzParseInput(f *testing.F) {
	f.Add(Input("# patchnight-op: t/1\nparam($p)\n", []byte(`{"x":1}`)))
	f.Add([]byte("e30=\nZQ==\r\n"))
	f.Add([]byte("\n\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, p, err := ParseInput(in)
		if err != nil {
			return
		}
		s2, p2, err := ParseInput(Input(s, p))
		if err != nil || s2 != s || !bytes.Equal(p2, p) {
			t.Fatalf("re-framing changed the input: %v", err)
		}
	})
}

func FuzzOp(f *testing.F) {
	f.Add("# patchnight-op: client-restart/1\nparam($p)")
	f.Add("\ufeff# patchnight-op: a/999999\r\n")
	f.Add("# patchnight-op: /1")
	f.Fuzz(func(t *testing.T, text string) {
		name, v := Op(text)
		if (name == "") != (v == 0) {
			t.Fatalf("Op(%q) = %q, %d", text, name, v)
		}
		if name != "" {
			if n2, v2 := Op("# patchnight-op: " + name + "/" + itoa(v)); n2 != name || v2 != v {
				t.Fatalf("Op does not round-trip %q/%d", name, v)
			}
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	f.Add(Command())
	f.Add(PowerShell + " -EncodedCommand AAAA")
	f.Add(PowerShell + " -EncodedCommand ")
	f.Fuzz(func(t *testing.T, cmdline string) {
		_, _ = ParseCommand(cmdline) // must not panic
	})
}

func itoa(v int) string {
	var b []byte
	for v > 0 {
		b = append([]byte{byte('0' + v%10)}, b...)
		v /= 10
	}
	return string(b)
}

// Every function a script calls from the shared libraries is defined exactly once in the
// text that travels, right after param($p); the libraries themselves are not operations.
func TestSharedLibraries(t *testing.T) {
	t.Parallel()
	shared := []string{"Write-Result", "Stop-Op", "Get-PnSessions", "Stop-Cim", "Get-PnArticleIDs",
		"Get-PnSiteNamespace", "Stop-ProviderCim", "Format-PnTime"}
	for _, name := range Names() {
		if strings.HasPrefix(name, libPrefix) {
			t.Errorf("Names lists the library %s", name)
		}
		text, err := Get(name)
		if err != nil {
			t.Fatal(err)
		}
		// CI parses what travels, too: .ci/pslint.sh sets this folder.
		if dir := os.Getenv("PATCHNIGHT_PSLINT_DIR"); dir != "" {
			if err := os.WriteFile(filepath.Join(dir, name+".composed.ps1"), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, fn := range shared {
			calls := strings.Count(text, fn) - strings.Count(text, "function "+fn)
			defs := strings.Count(text, "function "+fn+"(") + strings.Count(text, "function "+fn+" {")
			if calls > 0 && defs != 1 {
				t.Errorf("%s calls %s and defines it %d times", name, fn, defs)
			}
		}
		if i, j := strings.Index(text, "\nparam($p)\n"), strings.Index(text, "function "); j >= 0 && j < i {
			t.Errorf("%s: a function comes before param($p), which must stay the first statement", name)
		}
	}
	if _, err := Get("lib-common"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a library is served as a script: %v", err)
	}
	if _, err := compose("x", "# patchnight-op: x/1\n# patchnight-uses: nope\nparam($p)\n"); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown library was accepted: %v", err)
	}
	plain := "# patchnight-op: x/1\nparam($p)\n'hi'\n"
	if got, err := compose("x", plain); err != nil || got != plain {
		t.Errorf("a script without libraries changed: %q, %v", got, err)
	}
}

// A function is written once in scripts/: no operation script defines a function that a
// library or another script defines too (a shared one goes in a lib-*.ps1 file).
func TestFunctionsDefinedOnce(t *testing.T) {
	t.Parallel()
	def := regexp.MustCompile(`(?mi)^\s*function\s+([A-Za-z][A-Za-z0-9-]*)`)
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		t.Fatal(err)
	}
	where := map[string]string{}
	for _, e := range entries {
		b, err := files.ReadFile(e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range def.FindAllStringSubmatch(string(b), -1) {
			name := strings.ToLower(m[1])
			if first, ok := where[name]; ok {
				t.Errorf("function %s is defined in %s and again in %s", m[1], first, e.Name())
				continue
			}
			where[name] = e.Name()
		}
	}
	if len(where) == 0 {
		t.Fatal("no function definitions found: the pattern is wrong")
	}
}
