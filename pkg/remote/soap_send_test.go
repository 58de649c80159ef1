package remote

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/masterzen/winrm"
)

// sendRequest writes the library's Send message byte for byte (but for the random
// MessageID), with the chunk's base64 in place of the mark, also when the host's shell or
// command ID spells the mark, for chunks of every length modulo 3, the last one with End.
func TestSendRequestIsTheLibrarysMessage(t *testing.T) {
	t.Parallel()
	p := winrm.NewParameters("PT60S", "en-US", envelopeSize)
	msgID := regexp.MustCompile(`uuid:[0-9a-fA-F-]{36}`)
	chunk := bytes.Repeat([]byte("param($p) <&>\"' \x00\xff"), 700)
	for _, tc := range []struct {
		name, shell, cmd string
		n                int
		eof              bool
	}{
		{"one byte", "11111111-2222-3333-4444-555555555555", "AAAA", 1, false},
		{"two bytes, last", "S", "C", 2, true},
		{"a full chunk", "S", "C", sendChunk(envelopeSize), false},
		{"IDs spell the mark", sendMark, sendMark, 301, true},
		{"empty", "S", "C", 0, true},
	} {
		in := chunk[:min(tc.n, len(chunk))]
		if tc.n > len(chunk) {
			in = bytes.Repeat([]byte{0xA5}, tc.n)
		}
		got := sendRequest("https://pc1.lab.test:5986/wsman", tc.shell, tc.cmd, in, tc.eof, p)
		want := winrm.NewSendInputRequest("https://pc1.lab.test:5986/wsman", tc.shell, tc.cmd, in, tc.eof, p).String()
		if g, w := msgID.ReplaceAllString(string(got), "ID"), msgID.ReplaceAllString(want, "ID"); g != w {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, g, w)
		}
	}
}
