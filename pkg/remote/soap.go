package remote

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"

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

// Answers to the shell messages, decoded in one encoding/xml pass each. (The request
// messages are built by masterzen/winrm; its response parsers build a DOM and compile
// XPath expressions on every call, which was a third of the client's CPU per action.)

const (
	nsSOAP  = "http://www.w3.org/2003/05/soap-envelope"
	nsShell = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
)

var errNoSOAP = errors.New("the answer is not a SOAP envelope")

type createAnswer struct {
	XMLName xml.Name `xml:"http://www.w3.org/2003/05/soap-envelope Envelope"`
	Body    struct {
		Created struct {
			Ref struct {
				Set struct {
					Selectors []struct {
						Name  string `xml:"Name,attr"`
						Value string `xml:",chardata"`
					} `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd Selector"`
				} `xml:"http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd SelectorSet"`
			} `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing ReferenceParameters"`
		} `xml:"http://schemas.xmlsoap.org/ws/2004/09/transfer ResourceCreated"`
		Shell struct {
			ShellID string `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell ShellId"`
		} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Shell"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
}

// parseCreate returns the ShellId of a Create answer.
func parseCreate(resp []byte) (string, error) {
	var a createAnswer
	if err := xml.Unmarshal(resp, &a); err != nil {
		return "", errNoSOAP
	}
	for _, s := range a.Body.Created.Ref.Set.Selectors {
		if s.Name == "ShellId" && strings.TrimSpace(s.Value) != "" {
			return strings.TrimSpace(s.Value), nil
		}
	}
	if id := strings.TrimSpace(a.Body.Shell.ShellID); id != "" {
		return id, nil
	}
	return "", errors.New("the Create answer has no ShellId")
}

type commandAnswer struct {
	XMLName xml.Name `xml:"http://www.w3.org/2003/05/soap-envelope Envelope"`
	Header  struct {
		Action string `xml:"http://schemas.xmlsoap.org/ws/2004/08/addressing Action"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Header"`
	Body struct {
		Response struct {
			CommandID string `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell CommandId"`
		} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell CommandResponse"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
}

// parseCommand returns the CommandId of a Command answer.
func parseCommand(resp []byte) (string, error) {
	var a commandAnswer
	if err := xml.Unmarshal(resp, &a); err != nil {
		return "", errNoSOAP
	}
	if act := strings.TrimSpace(a.Header.Action); act != nsShell+"/CommandResponse" {
		return "", errors.New("the Command answer has action " + strconv.Quote(act))
	}
	id := strings.TrimSpace(a.Body.Response.CommandID)
	if id == "" {
		return "", errors.New("the Command answer has no CommandId")
	}
	return id, nil
}

type receiveAnswer struct {
	XMLName xml.Name `xml:"http://www.w3.org/2003/05/soap-envelope Envelope"`
	Body    struct {
		Response struct {
			Streams []struct {
				Name string `xml:"Name,attr"`
				Data string `xml:",chardata"`
			} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell Stream"`
			State struct {
				State    string `xml:"State,attr"`
				ExitCode string `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell ExitCode"`
			} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell CommandState"`
		} `xml:"http://schemas.microsoft.com/wbem/wsman/1/windows/shell ReceiveResponse"`
	} `xml:"http://www.w3.org/2003/05/soap-envelope Body"`
}

// parseReceive appends the stdout and stderr of a Receive answer and reports whether the
// command is done, with its exit code (Windows sends the true code only in the first Done).
func parseReceive(resp []byte, stdout, stderr *[]byte) (done bool, code int, err error) {
	var a receiveAnswer
	if err := xml.Unmarshal(resp, &a); err != nil {
		return false, 0, errNoSOAP
	}
	for _, s := range a.Body.Response.Streams {
		data := strings.TrimSpace(s.Data)
		if data == "" {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return false, 0, errors.New("a Receive stream is not base64")
		}
		switch s.Name {
		case "stdout":
			*stdout = append(*stdout, b...)
		case "stderr":
			*stderr = append(*stderr, b...)
		}
	}
	if !strings.HasSuffix(a.Body.Response.State.State, "/CommandState/Done") {
		return false, 0, nil
	}
	if c := strings.TrimSpace(a.Body.Response.State.ExitCode); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil {
			return true, 0, errors.New("the exit code " + strconv.Quote(c) + " is not a number")
		}
		// Windows exit codes are 32-bit; NTSTATUS values arrive as large unsigned numbers.
		code = int(int32(uint32(n)))
	}
	return true, code, nil
}
