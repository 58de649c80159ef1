package remote

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/masterzen/winrm"

	"github.com/patchnight/patchnight/scripts"
)

// Every shell message written from a template is the library's message for the same
// values byte for byte, but for the random MessageID (a fresh, well-formed one in each):
// every kind, Send chunks of every length modulo 3 with and without End, IDs that spell a
// mark or the Send mark, and two parameter sets (one template each).
func TestMessagesAreTheLibrarys(t *testing.T) {
	t.Parallel()
	msgID := regexp.MustCompile(`<a:MessageID>uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}</a:MessageID>`)
	idElem := regexp.MustCompile(`<a:MessageID>[^<]*</a:MessageID>`)
	command := scripts.Command()
	program, args, _ := strings.Cut(command, " ")
	stdin := bytes.Repeat([]byte("param($p) <&>\"' \x00\xff"), 900)
	ms := &msgTemplates{}
	for _, p := range []*winrm.Parameters{
		winrm.NewParameters("PT60S", "en-US", envelopeSize),
		winrm.NewParameters("PT20S", "de-DE", 512000),
	} {
		for _, v := range []values{
			{url: "https://pc1.lab.test:5986/wsman", shell: "11111111-2222-3333-4444-555555555555", cmd: "AAAA-BBBB"},
			{url: "http://10.1.2.3:5985/wsman", shell: sendMark, cmd: "uuid:00000000-0000-0000-0000-000000000000"},
		} {
			for _, n := range []int{1, 2, 3, 301, sendChunk(p.EnvelopeSize)} {
				v.stdin = stdin[:min(n, len(stdin))]
				cases := []struct {
					name string
					kind messageKind
					want string
				}{
					{"Create", msgCreate, winrm.NewOpenShellRequest(v.url, p).String()},
					{"Command", msgCommand, commandRequest(v.url, v.shell, program, args, p).String()},
					{"Send", msgSend, winrm.NewSendInputRequest(v.url, v.shell, v.cmd, v.stdin, false, p).String()},
					{"Send End", msgSendLast, winrm.NewSendInputRequest(v.url, v.shell, v.cmd, v.stdin, true, p).String()},
					{"Receive", msgReceive, winrm.NewGetOutputRequest(v.url, v.shell, v.cmd, "stdout stderr", p).String()},
					{"Signal", msgSignal, winrm.NewSignalRequest(v.url, v.shell, v.cmd, p).String()},
					{"Delete", msgDelete, winrm.NewDeleteShellRequest(v.url, v.shell, p).String()},
				}
				for _, c := range cases {
					got := string(ms.build(c.kind, p, command, &v, nil))
					if n := len(msgID.FindAllString(got, -1)); n != 1 {
						t.Errorf("%s: %d well-formed MessageIDs in %s", c.name, n, got)
					}
					g, w := idElem.ReplaceAllString(got, "ID"), idElem.ReplaceAllString(c.want, "ID")
					if g != w {
						t.Errorf("%s (%d bytes of stdin):\n got %s\nwant %s", c.name, n, g, w)
					}
				}
			}
		}
	}
}
