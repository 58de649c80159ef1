package scripts

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The notice window's task starts PowerShell with -EncodedCommand of a short launcher, not
// -File with -ExecutionPolicy Bypass (Group Policy overrides that; AllSigned refuses an
// unsigned file). The test decodes the argument list client-notify registers and checks
// it: fixed options only, within the command-line limit, a launcher that names this notice
// and the window script's hash as quoted data. CI parses the launcher as PowerShell
// (.ci/pslint.sh sets PATCHNIGHT_PSLINT_DIR).
func TestNoticeLauncher(t *testing.T) {
	t.Parallel()
	window, err := Get("notice-window")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(window))
	hash := hex.EncodeToString(sum[:])
	const id = "0123456789abcdef0123456789abcdef"
	args, err := NoticeArguments(id, window)
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"-File", "-ExecutionPolicy", "Bypass", `"`} {
		if strings.Contains(args, bad) {
			t.Errorf("the task arguments hold %q: %.120s", bad, args)
		}
	}
	if !regexp.MustCompile(`^-NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand [A-Za-z0-9+/]+={0,2}$`).MatchString(args) {
		t.Errorf("arguments %.120s", args)
	}
	if n := len(NoticeProgram) + 1 + len(args); n > MaxCommandLine {
		t.Errorf("the task's command line is %d characters, over %d", n, MaxCommandLine)
	}
	launcher, err := ParseNoticeArguments(args)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(launcher, "# patchnight notice launcher/1\n") ||
		!strings.Contains(launcher, `'notices\`+id+`.txt'`) || !strings.Contains(launcher, "'"+hash+"'") {
		t.Errorf("launcher:\n%s", launcher)
	}
	// The launcher is PowerShell with no text of the notice in it: only the two hex values.
	if strings.Count(launcher, "'")%2 != 0 || strings.ContainsAny(launcher, "\"`") {
		t.Errorf("launcher quoting:\n%s", launcher)
	}
	if dir := os.Getenv("PATCHNIGHT_PSLINT_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "notice-launcher.ps1"), []byte(launcher), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []struct{ id, window string }{
		{"0123456789ABCDEF0123456789ABCDEF", window}, // upper case
		{"x'; Remove-Item C:\\ -Recurse; '", window},
		{"..\\..\\windows\\system32\\evil", window},
		{"", window},
	} {
		if _, err := NoticeArguments(bad.id, bad.window); err == nil {
			t.Errorf("notice ID %q accepted", bad.id)
		}
	}
	if _, err := ParseNoticeArguments(`-NoProfile -ExecutionPolicy Bypass -File "C:\x.ps1" abc`); err == nil {
		t.Errorf("a -File command line parsed as the launcher")
	}
}

// client-notify registers the launcher's arguments as they came, and nothing in it starts
// the window with -File or -ExecutionPolicy.
func TestClientNotifyRegistersEncodedLauncher(t *testing.T) {
	t.Parallel()
	text, err := Get("client-notify")
	if err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(text, "") // comments may name what is not done
	for _, bad := range []string{"-File", "-ExecutionPolicy", "Bypass"} {
		if strings.Contains(code, bad) {
			t.Errorf("client-notify.ps1 still uses %s", bad)
		}
	}
	if !strings.Contains(code, "New-ScheduledTaskAction -Execute $exe -Argument $arguments") ||
		!strings.Contains(code, "'"+NoticeOptions+"'") {
		t.Errorf("client-notify.ps1 does not register the launcher's arguments")
	}
}
