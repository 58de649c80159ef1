package remote

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// Everything a host sends back is untrusted input: the parsers must never panic.

func FuzzDecodeCLIXML(f *testing.F) {
	f.Add("#< CLIXML\r\n<Objs Version=\"1.1.0.1\" xmlns=\"http://schemas.microsoft.com/powershell/2004/04\"><S S=\"Error\">x_x000D__x000A_</S></Objs>")
	f.Add("#< CLIXML\r\n<Objs><Obj S=\"Error\"><ToString>a</ToString><Obj S=\"Error\"><ToString>b</ToString></Obj></Obj></Objs>")
	f.Add("#< CLIXML<S S='Error'>_x0041")
	f.Add("plain")
	f.Fuzz(func(t *testing.T, s string) {
		out := DecodeCLIXML(s)
		if !strings.HasPrefix(strings.TrimSpace(s), "#< CLIXML") && out != strings.TrimSpace(s) {
			t.Fatalf("non-CLIXML text changed: %q -> %q", s, out)
		}
	})
}

func FuzzOpenEnvelope(f *testing.F) {
	f.Add(sealEnvelope([]byte("<s:Envelope/>"), []byte("sealed-bytes!"), bytes.Repeat([]byte{1}, 16)))
	f.Add([]byte("Length=5\r\n\tContent-Type: application/octet-stream\r\n\x10\x00\x00\x00"))
	f.Add([]byte("Length=-1\r"))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, sig, sealed, err := openEnvelope(body, 16)
		if err != nil {
			return
		}
		if n < 0 || len(sig) != 16 {
			t.Fatalf("accepted length %d, signature %d bytes", n, len(sig))
		}
		again := sealEnvelope(make([]byte, n), sealed, sig)
		if _, sig2, sealed2, err := openEnvelope(again, 16); err != nil || !bytes.Equal(sig2, sig) || !bytes.Equal(sealed2, sealed) {
			t.Fatalf("re-wrapping changed the envelope: %v", err)
		}
	})
}

func FuzzParseAnswers(f *testing.F) {
	f.Add(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Body><rsp:ReceiveResponse><rsp:Stream Name="stdout" CommandId="1">e30NCg==</rsp:Stream><rsp:CommandState CommandId="1" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"><rsp:ExitCode>4294967295</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>`)
	f.Add(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"><s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandResponse</a:Action></s:Header><s:Body><rsp:CommandResponse><rsp:CommandId>X</rsp:CommandId></rsp:CommandResponse></s:Body></s:Envelope>`)
	f.Add(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode></s:Code><s:Reason><s:Text>t</s:Text></s:Reason><s:Detail><f:WSManFault xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault" Code="2150858793"><f:Message><f:ProviderFault>m</f:ProviderFault></f:Message></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>`)
	f.Add("<")
	f.Fuzz(func(t *testing.T, resp string) {
		compareParsers(t, []byte(resp))
		var out, errs []byte
		done, code, err := parseReceive([]byte(resp), &out, &errs)
		if err != nil && (done || code != 0) && !strings.Contains(err.Error(), "exit code") {
			t.Fatalf("error %v with done=%v code=%d", err, done, code)
		}
		if f := parseFault([]byte(resp)); f != nil && !utf8.ValidString(f.text()) && utf8.ValidString(resp) {
			t.Fatalf("fault text is not UTF-8")
		}
	})
}
