package notify

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/scripts"
)

// A window notice carries its own ID and the task arguments that start the window by
// -EncodedCommand: the launcher names that ID and the hash of the window script sent
// with it, and the longest notice still fits a command line (its text waits in a file).
func TestWindowRequestCarriesEncodedLauncher(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("Ünïcode & \"quotes\" 'and' $(code) ", config.MaxNoticeText/34)
	seen := map[string]bool{}
	for _, text := range []string{"Please restart tonight.", long} {
		r, err := NewRequest(Message{Method: MethodWindow, Title: "Updates", Text: text, DisplayTime: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.NoticeID) != 32 || seen[r.NoticeID] {
			t.Errorf("notice ID %q (seen before: %v)", r.NoticeID, seen[r.NoticeID])
		}
		seen[r.NoticeID] = true
		w, err := base64.StdEncoding.DecodeString(r.WindowScript)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(w)
		launcher, err := scripts.ParseNoticeArguments(r.WindowCommand)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := scripts.NoticeLauncher(r.NoticeID, hex.EncodeToString(sum[:]))
		if launcher != want || strings.Contains(r.WindowCommand, "-File") || strings.Contains(r.WindowCommand, "-ExecutionPolicy") {
			t.Errorf("WindowCommand does not launch this notice: %.100s", r.WindowCommand)
		}
		if strings.Contains(launcher, "Please") || strings.Contains(launcher, "quotes") {
			t.Errorf("the notice text is in the launcher")
		}
		if n := len(scripts.NoticeProgram) + 1 + len(r.WindowCommand); n > scripts.MaxCommandLine {
			t.Errorf("%d characters of command line", n)
		}
	}
}
