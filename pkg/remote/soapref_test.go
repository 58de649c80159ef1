package remote

import (
	"encoding/base64"
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
)

// The answer parsers as they were, with encoding/xml: the reference the scanner-based
// parsers are compared with (TestParsersAgreeWithEncodingXML, FuzzParseAnswers).

type refCreateAnswer struct {
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
func refParseCreate(resp []byte) (string, error) {
	var a refCreateAnswer
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

type refCommandAnswer struct {
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
func refParseCommand(resp []byte) (string, error) {
	var a refCommandAnswer
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

type refReceiveAnswer struct {
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
func refParseReceive(resp []byte, stdout, stderr *[]byte) (done bool, code int, err error) {
	var a refReceiveAnswer
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
