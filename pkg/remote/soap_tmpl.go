package remote

import (
	"encoding/base64"
	"encoding/hex"
	"regexp"
	"strings"
	"sync"

	"crypto/rand"

	"github.com/masterzen/winrm"
)

// The shell messages (Create, Command, Send, Receive, Signal, Delete) are the library's
// (masterzen/winrm request builders; commandRequest for Command), but building each one
// as a DOM and printing it was most of what an action allocated. A msgTemplates value builds
// each kind once with marks in place of the parts that change (the URL, the shell and
// command IDs, the MessageID, a Send's stdin), cuts the text at the marks, and then
// writes every message by joining the fixed text and the values, once, into the buffer
// that is posted. The library writes contents and attributes as given (no escaping), so
// the result is the library's message byte for byte (TestMessagesAreTheLibrarys).

// Marks: NUL never occurs in the library's fixed text or in a valid XML message.
const (
	markURL   = "\x00url\x00"
	markShell = "\x00shell\x00"
	markCmd   = "\x00cmd\x00"
	markStdin = "\x00stdin\x00"
)

type slot uint8

const (
	slotURL slot = iota
	slotShell
	slotCmd
	slotMsgID
	slotStdin
)

// template is a message cut at its variable parts: text[0] slot[0] text[1] ... text[n].
type template struct {
	text  []string
	slots []slot
}

var uuidPattern = regexp.MustCompile(`uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// cut turns a message built with the marks (and one random MessageID) into a template.
func cut(doc string) template {
	var t template
	marks := []struct {
		s    string
		slot slot
	}{{markURL, slotURL}, {markShell, slotShell}, {markCmd, slotCmd}, {markStdin, slotStdin}}
	for {
		at, size, which := -1, 0, slot(0)
		for _, m := range marks {
			if i := strings.Index(doc, m.s); i >= 0 && (at < 0 || i < at) {
				at, size, which = i, len(m.s), m.slot
			}
		}
		if loc := uuidPattern.FindStringIndex(doc); loc != nil && (at < 0 || loc[0] < at) {
			at, size, which = loc[0], loc[1]-loc[0], slotMsgID
		}
		if at < 0 {
			t.text = append(t.text, doc)
			return t
		}
		t.text = append(t.text, doc[:at])
		t.slots = append(t.slots, which)
		doc = doc[at+size:]
	}
}

// values are what fills a template's slots.
type values struct {
	url, shell, cmd string
	stdin           []byte
}

// render writes the message into a buffer from pool (nil: a new one).
func (t *template) render(v *values, pool *bufPool) []byte {
	n := 0
	for _, s := range t.text {
		n += len(s)
	}
	for _, s := range t.slots {
		switch s {
		case slotURL:
			n += len(v.url)
		case slotShell:
			n += len(v.shell)
		case slotCmd:
			n += len(v.cmd)
		case slotMsgID:
			n += len("uuid:") + 36
		case slotStdin:
			n += base64.StdEncoding.EncodedLen(len(v.stdin))
		}
	}
	out := pool.get(n)
	for i, s := range t.slots {
		out = append(out, t.text[i]...)
		switch s {
		case slotURL:
			out = append(out, v.url...)
		case slotShell:
			out = append(out, v.shell...)
		case slotCmd:
			out = append(out, v.cmd...)
		case slotMsgID:
			out = appendMessageID(out)
		case slotStdin:
			out = base64.StdEncoding.AppendEncode(out, v.stdin)
		}
	}
	return append(out, t.text[len(t.text)-1]...)
}

// appendMessageID appends a random "uuid:..." (version 4), as messageID returns it.
func appendMessageID(dst []byte) []byte {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var h [32]byte
	hex.Encode(h[:], b[:])
	dst = append(dst, "uuid:"...)
	dst = append(dst, h[0:8]...)
	dst = append(dst, '-')
	dst = append(dst, h[8:12]...)
	dst = append(dst, '-')
	dst = append(dst, h[12:16]...)
	dst = append(dst, '-')
	dst = append(dst, h[16:20]...)
	dst = append(dst, '-')
	return append(dst, h[20:]...)
}

// messageKind names a shell message.
type messageKind uint8

const (
	msgCreate messageKind = iota
	msgCommand
	msgSend
	msgSendLast // Send with End="true"
	msgReceive
	msgSignal
	msgDelete
)

// messageKey is what a template depends on beside the kind: the parameters and the
// command line.
type messageKey struct {
	kind                     messageKind
	timeout, locale, command string
	envelope                 int
}

// msgTemplates keeps the templates of a Connector's clients. Safe for concurrent use.
type msgTemplates struct {
	m sync.Map // messageKey -> *template
}

// build returns the message of kind for the client's parameters and command line, in a
// buffer from pool (nil: a new one).
func (ms *msgTemplates) build(kind messageKind, p *winrm.Parameters, command string, v *values, pool *bufPool) []byte {
	key := messageKey{kind: kind, timeout: p.Timeout, locale: p.Locale, envelope: p.EnvelopeSize}
	if kind == msgCommand {
		key.command = command
	}
	if ms != nil {
		if t, ok := ms.m.Load(key); ok {
			return t.(*template).render(v, pool)
		}
	}
	t := cut(libraryMessage(kind, p, command))
	if ms != nil {
		ms.m.Store(key, &t)
	}
	return t.render(v, pool)
}

// libraryMessage is the library's message of kind, with the marks as values.
func libraryMessage(kind messageKind, p *winrm.Parameters, command string) string {
	switch kind {
	case msgCreate:
		return winrm.NewOpenShellRequest(markURL, p).String()
	case msgCommand:
		program, args, _ := strings.Cut(command, " ")
		return commandRequest(markURL, markShell, program, args, p).String()
	case msgSend, msgSendLast:
		// The library encodes the input; its base64 is replaced by the stdin mark.
		doc := winrm.NewSendInputRequest(markURL, markShell, markCmd, []byte(sendMarkRaw), kind == msgSendLast, p).String()
		return strings.Replace(doc, sendMark, markStdin, 1)
	case msgReceive:
		return winrm.NewGetOutputRequest(markURL, markShell, markCmd, "stdout stderr", p).String()
	case msgSignal:
		return winrm.NewSignalRequest(markURL, markShell, markCmd, p).String()
	default:
		return winrm.NewDeleteShellRequest(markURL, markShell, p).String()
	}
}
