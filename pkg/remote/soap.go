package remote

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"

	"github.com/masterzen/winrm"
	"github.com/masterzen/winrm/soap"
)

// commandRequest is the Command message that starts program with arguments in the shell,
// with standard input as a pipe: WINRS_CONSOLEMODE_STDIN=FALSE and
// WINRS_SKIP_CMD_SHELL=TRUE, as streaming clients send it (Ansible's WinRM plugin sets
// console mode off whenever it streams stdin; configmgr.md section 12). The library's
// NewExecuteCommandRequest hard-codes console mode TRUE and cmd.exe FALSE, and whether
// PowerShell's [Console]::In.ReadToEnd() sees the end of input on a console is
// unconfirmed; with cmd.exe skipped, the command line also escapes cmd.exe's 8191
// character limit and its parsing. Headers are the library's defaults otherwise.
func commandRequest(url, shellID, program, arguments string, p *winrm.Parameters) *soap.SoapMessage {
	m := soap.NewMessage()
	m.Header().
		To(url).
		ReplyTo("http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous").
		MaxEnvelopeSize(p.EnvelopeSize).
		Id(messageID()).
		Locale(p.Locale).
		Timeout(p.Timeout).
		Action(nsShell + "/Command").
		ResourceURI(nsShell + "/cmd").
		ShellId(shellID).
		AddOption(soap.NewHeaderOption("WINRS_CONSOLEMODE_STDIN", "FALSE")).
		AddOption(soap.NewHeaderOption("WINRS_SKIP_CMD_SHELL", "TRUE")).
		Build()
	body := m.CreateBodyElement("CommandLine", soap.DOM_NS_WIN_SHELL)
	// CDATA as the library writes it: the program and the arguments are patchnight's own
	// fixed text (scripts.Command) and hold no "]]>".
	m.CreateElement(body, "Command", soap.DOM_NS_WIN_SHELL).SetContent("<![CDATA[" + program + "]]>")
	if arguments != "" {
		m.CreateElement(body, "Arguments", soap.DOM_NS_WIN_SHELL).SetContent("<![CDATA[" + arguments + "]]>")
	}
	return m
}

// sendMark is what the library writes for the stdin of a Send built with sendMarkRaw:
// base64("PatchnightStdin"); the Send template puts the stdin mark in its place.
const (
	sendMarkRaw = "PatchnightStdin"
	sendMark    = "UGF0Y2huaWdodFN0ZGlu"
)

// messageID returns a random "uuid:..." (version 4) for a:MessageID.
func messageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return "uuid:" + h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// sendEnvelopeSlack is what a Send envelope needs beside its base64 stdin: headers (the
// URL, the shell, command and message IDs, the options) and the body's elements.
const sendEnvelopeSlack = 2048

// sendChunk is how many raw stdin bytes one Send carries so that the envelope stays
// within envelopeSize: the data travels as base64 (4 characters per 3 bytes) beside
// sendEnvelopeSlack of XML (configmgr.md section 12).
func sendChunk(envelopeSize int) int {
	return (envelopeSize - sendEnvelopeSlack) / 4 * 3
}

// Answers to the shell messages, read in one pass each by xmlScanner. (The request
// messages are built by masterzen/winrm; its response parsers build a DOM and compile
// XPath expressions on every call, which was a third of the client's CPU per action. The
// encoding/xml structs that replaced them allocated a quarter of what an action
// allocated; they are kept as the tests' reference.)

const (
	nsSOAP       = "http://www.w3.org/2003/05/soap-envelope"
	nsShell      = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
	nsAddressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	nsTransfer   = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
	nsWSMan      = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
)

var errNoSOAP = errors.New("the answer is not a SOAP envelope")

// nextAnswer is xmlScanner.next for an answer: any error is errNoSOAP, and so is a root
// other than a SOAP Envelope.
func (s *xmlScanner) nextAnswer() (xmlEvent, []byte, error) {
	ev, text, err := s.next()
	if err != nil {
		return 0, nil, errNoSOAP
	}
	if ev == evStart && s.depth() == 1 && !s.at(0, nsSOAP, "Envelope") {
		return 0, nil, errNoSOAP
	}
	return ev, text, nil
}

// inBody reports whether the open elements from the root are Envelope, Body.
func (s *xmlScanner) inBody() bool {
	return s.at(1, nsSOAP, "Body")
}

// parseCreate returns the ShellId of a Create answer: the first non-blank ShellId
// selector of the ResourceCreated, else the Shell's ShellId.
func parseCreate(resp []byte) (string, error) {
	var s xmlScanner
	s.init(resp)
	var selector, shell []byte
	var c chars
	in := 0 // 1: a ShellId Selector, 2: the Shell's ShellId
	for {
		ev, t, err := s.nextAnswer()
		if err != nil {
			return "", err
		}
		switch ev {
		case evStart:
			d := s.depth()
			switch {
			case d == 6 && s.inBody() && s.at(2, nsTransfer, "ResourceCreated") && s.at(3, nsAddressing, "ReferenceParameters") &&
				s.at(4, nsWSMan, "SelectorSet") && s.at(5, nsWSMan, "Selector"):
				isShell, err := s.attrIs("Name", "ShellId")
				if err != nil {
					return "", errNoSOAP
				}
				if isShell {
					in = 1
					c.reset()
				}
			case d == 4 && s.inBody() && s.at(2, nsShell, "Shell") && s.at(3, nsShell, "ShellId"):
				in = 2
				c.reset()
			}
		case evText, evCDATA:
			if (in == 1 && s.depth() == 6) || (in == 2 && s.depth() == 4) {
				if err := c.add(ev, t); err != nil {
					return "", errNoSOAP
				}
			}
		case evEnd:
			switch {
			case in == 1 && s.depth() == 5:
				if v := bytes.TrimSpace(c.text); selector == nil && len(v) > 0 {
					selector = v
					c = chars{} // selector keeps the buffer
				}
				in = 0
			case in == 2 && s.depth() == 3:
				shell = bytes.TrimSpace(c.text)
				c = chars{}
				in = 0
			}
		case evDone:
			if selector != nil {
				return string(selector), nil
			}
			if len(shell) > 0 {
				return string(shell), nil
			}
			return "", errors.New("the Create answer has no ShellId")
		}
	}
}

// parseCommand returns the CommandId of a Command answer.
func parseCommand(resp []byte) (string, error) {
	var s xmlScanner
	s.init(resp)
	var action, id []byte
	var c chars
	in := 0 // 1: the Action header, 2: the CommandId
	for {
		ev, t, err := s.nextAnswer()
		if err != nil {
			return "", err
		}
		switch ev {
		case evStart:
			d := s.depth()
			switch {
			case d == 3 && s.at(1, nsSOAP, "Header") && s.at(2, nsAddressing, "Action"):
				in = 1
				c.reset()
			case d == 4 && s.inBody() && s.at(2, nsShell, "CommandResponse") && s.at(3, nsShell, "CommandId"):
				in = 2
				c.reset()
			}
		case evText, evCDATA:
			if (in == 1 && s.depth() == 3) || (in == 2 && s.depth() == 4) {
				if err := c.add(ev, t); err != nil {
					return "", errNoSOAP
				}
			}
		case evEnd:
			switch {
			case in == 1 && s.depth() == 2:
				action = c.text
				c = chars{}
				in = 0
			case in == 2 && s.depth() == 3:
				id = c.text
				c = chars{}
				in = 0
			}
		case evDone:
			if act := bytes.TrimSpace(action); string(act) != nsShell+"/CommandResponse" {
				return "", errors.New("the Command answer has action " + strconv.Quote(string(act)))
			}
			id = bytes.TrimSpace(id)
			if len(id) == 0 {
				return "", errors.New("the Command answer has no CommandId")
			}
			return string(id), nil
		}
	}
}

// parseReceive appends the stdout and stderr of a Receive answer and reports whether the
// command is done, with its exit code (Windows sends the true code only in the first Done).
// On an error, stdout and stderr are left as they were (but for an unreadable exit code).
func parseReceive(resp []byte, stdout, stderr *[]byte) (done bool, code int, err error) {
	nout, nerr := len(*stdout), len(*stderr)
	var s xmlScanner
	s.init(resp)
	var (
		stream    *[]byte // the stream being read (nil: one we do not keep)
		skip      []byte  // what a stream we do not keep decodes to
		inStream  bool
		inExit    bool
		c         chars
		state     []byte
		exit      []byte
		badBase64 bool
	)
	for {
		ev, t, err := s.nextAnswer()
		if err != nil {
			*stdout, *stderr = (*stdout)[:nout], (*stderr)[:nerr]
			return false, 0, err
		}
		switch ev {
		case evStart:
			d := s.depth()
			switch {
			case d == 4 && s.inBody() && s.at(2, nsShell, "ReceiveResponse") && s.at(3, nsShell, "Stream"):
				isOut, err1 := s.attrIs("Name", "stdout")
				isErr, err2 := s.attrIs("Name", "stderr")
				if err1 != nil || err2 != nil {
					*stdout, *stderr = (*stdout)[:nout], (*stderr)[:nerr]
					return false, 0, errNoSOAP
				}
				stream, inStream = &skip, true
				if isOut {
					stream = stdout
				} else if isErr {
					stream = stderr
				}
				c.reset()
			case d == 4 && s.inBody() && s.at(2, nsShell, "ReceiveResponse") && s.at(3, nsShell, "CommandState"):
				v, ok, err := s.attrBytes("State")
				if err != nil {
					*stdout, *stderr = (*stdout)[:nout], (*stderr)[:nerr]
					return false, 0, errNoSOAP
				}
				if ok {
					state = v
				}
			case d == 5 && s.inBody() && s.at(2, nsShell, "ReceiveResponse") && s.at(3, nsShell, "CommandState") && s.at(4, nsShell, "ExitCode"):
				inExit = true
				c.reset()
			}
		case evText, evCDATA:
			if (inStream && s.depth() == 4) || (inExit && s.depth() == 5) {
				if err := c.add(ev, t); err != nil {
					*stdout, *stderr = (*stdout)[:nout], (*stderr)[:nerr]
					return false, 0, errNoSOAP
				}
			}
		case evEnd:
			switch {
			case inStream && s.depth() == 3:
				inStream = false
				data := bytes.TrimSpace(c.text)
				if len(data) == 0 {
					continue
				}
				n := len(*stream)
				if *stream, err = base64.StdEncoding.AppendDecode(*stream, data); err != nil {
					*stream = (*stream)[:n]
					badBase64 = true
				}
				skip = skip[:0]
			case inExit && s.depth() == 4:
				exit = c.text
				c = chars{}
				inExit = false
			}
		case evDone:
			if badBase64 {
				*stdout, *stderr = (*stdout)[:nout], (*stderr)[:nerr]
				return false, 0, errors.New("a Receive stream is not base64")
			}
			if !bytes.HasSuffix(state, []byte("/CommandState/Done")) {
				return false, 0, nil
			}
			if v := bytes.TrimSpace(exit); len(v) > 0 {
				n, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					return true, 0, errors.New("the exit code " + strconv.Quote(string(v)) + " is not a number")
				}
				// Windows exit codes are 32-bit; NTSTATUS values arrive as large unsigned numbers.
				code = int(int32(uint32(n)))
			}
			return true, code, nil
		}
	}
}
