package remote

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// envelope wraps a header and a body in a SOAP envelope with WinRM's prefixes.
func envelope(header, body string) string {
	return `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<s:Envelope xml:lang="en-US" xmlns:s="` + nsSOAP + `" xmlns:a="` + nsAddressing +
		`" xmlns:x="` + nsTransfer + `" xmlns:w="` + nsWSMan + `" xmlns:rsp="` + nsShell + `"><s:Header>` + header +
		`</s:Header><s:Body>` + body + `</s:Body></s:Envelope>`
}

// answerCases are answers as WinRM and the lab write them, and variants a conforming
// host may send: other prefixes, default namespaces, comments, CDATA, references,
// whitespace, missing and repeated parts, wrong namespaces, broken documents.
func answerCases() []string {
	const id = "11111111-2222-3333-4444-555555555555"
	created := `<x:ResourceCreated><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address><a:ReferenceParameters><w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><w:SelectorSet><w:Selector Name="ShellId">` + id + `</w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>`
	shell := `<rsp:Shell><rsp:ShellId>` + id + `</rsp:ShellId><rsp:Owner>lab</rsp:Owner><rsp:InputStreams>stdin</rsp:InputStreams></rsp:Shell>`
	cmdAction := `<a:Action>` + nsShell + `/CommandResponse</a:Action><a:MessageID>uuid:` + id + `</a:MessageID>`
	done := `<rsp:CommandState CommandId="C" State="` + nsShell + `/CommandState/Done"><rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState>`
	return []string{
		envelope(`<a:Action>`+nsTransfer+`/CreateResponse</a:Action>`, created+shell),
		envelope(``, shell),
		envelope(``, created),
		envelope(``, `<x:ResourceCreated><a:ReferenceParameters><w:SelectorSet><w:Selector Name="Other">X</w:Selector><w:Selector Name="ShellId">  </w:Selector><w:Selector Name='ShellId'> `+id+` </w:Selector></w:SelectorSet></a:ReferenceParameters></x:ResourceCreated>`),
		envelope(``, `<w:Selector Name="ShellId">`+id+`</w:Selector>`),
		envelope(``, `<rsp:Shell><rsp:ShellId><![CDATA[`+id+`]]></rsp:ShellId></rsp:Shell>`),
		envelope(``, `<rsp:Shell><rsp:ShellId>`+id+`&#x41;&amp;<!-- c --></rsp:ShellId></rsp:Shell>`),
		envelope(``, `<Shell xmlns="`+nsShell+`"><ShellId>`+id+`</ShellId></Shell>`),
		envelope(``, `<rsp:Shell xmlns:rsp="urn:other"><rsp:ShellId>`+id+`</rsp:ShellId></rsp:Shell>`),
		envelope(``, `<q:Shell xmlns:q="`+nsShell+`"><q:ShellId>`+id+`<q:Inner>no</q:Inner></q:ShellId></q:Shell>`),
		envelope(cmdAction, `<rsp:CommandResponse><rsp:CommandId>C-1</rsp:CommandId></rsp:CommandResponse>`),
		envelope(cmdAction, `<rsp:CommandResponse><rsp:CommandId> </rsp:CommandId></rsp:CommandResponse>`),
		envelope(`<a:Action>`+nsShell+`/Other</a:Action>`, `<rsp:CommandResponse><rsp:CommandId>C-1</rsp:CommandId></rsp:CommandResponse>`),
		envelope(`<A:Action xmlns:A="`+nsAddressing+`">`+nsShell+`/CommandResponse</A:Action>`, `<rsp:CommandResponse><rsp:CommandId>C&#45;2</rsp:CommandId><rsp:CommandId>C-3</rsp:CommandId></rsp:CommandResponse>`),
		envelope(cmdAction, `<rsp:ReceiveResponse><rsp:Stream Name="stdout" CommandId="C">eyJvayI6dHJ1ZX0NCg==</rsp:Stream><rsp:Stream Name="stderr" CommandId="C"></rsp:Stream><rsp:Stream Name="stdout" CommandId="C" End="true"></rsp:Stream>`+done+`</rsp:ReceiveResponse>`),
		envelope(``, `<rsp:ReceiveResponse><rsp:Stream Name="stdout">e30N&#x43;g==</rsp:Stream><rsp:Stream Name="stderr">`+"\r\n  aGVs\r\nbG8=  "+`</rsp:Stream><rsp:Stream Name="other">aGk=</rsp:Stream></rsp:ReceiveResponse>`),
		envelope(``, `<rsp:ReceiveResponse><rsp:Stream Name="stdout">e30<!-- split -->NCg==</rsp:Stream><rsp:Stream Name="stdout"><![CDATA[aGk=]]></rsp:Stream>`+done+`</rsp:ReceiveResponse>`),
		envelope(``, `<rsp:ReceiveResponse><rsp:Stream Name="stdout">not base64!</rsp:Stream>`+done+`</rsp:ReceiveResponse>`),
		envelope(``, `<rsp:ReceiveResponse><rsp:CommandState State="`+nsShell+`/CommandState/Running"/></rsp:ReceiveResponse>`),
		envelope(``, `<rsp:ReceiveResponse><rsp:CommandState State="`+nsShell+`/CommandState/Done"><rsp:ExitCode>4294967295</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>`),
		envelope(``, `<rsp:ReceiveResponse><rsp:CommandState State="`+nsShell+`/CommandState/Done"><rsp:ExitCode>x1</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse>`),
		envelope(``, `<rsp:ReceiveResponse><rsp:CommandState State="`+nsShell+`/CommandState/Done"/></rsp:ReceiveResponse>`),
		envelope(``, `<rsp:ReceiveResponse><rsp:Stream Name="stdout">aGk=</rsp:Stream></rsp:ReceiveResponse>`) + `trailing <junk`,
		`<s:Envelope xmlns:s="urn:not-soap"><s:Body/></s:Envelope>`,
		`<Envelope xmlns="` + nsSOAP + `"><Body><Shell xmlns="` + nsShell + `"><ShellId>` + id + `</ShellId></Shell></Body></Envelope>`,
		`<s:Envelope xmlns:s="` + nsSOAP + `"/>`,
		envelope(``, `<rsp:Shell><rsp:ShellId>`+id+`</rsp:Shell></rsp:ShellId>`),
		envelope(``, `<rsp:Shell><rsp:ShellId>`+id+`&bogus;</rsp:ShellId></rsp:Shell>`),
		strings.TrimSuffix(envelope(``, shell), `</s:Envelope>`),
		`<!DOCTYPE s:Envelope [<!ENTITY e "x">]>` + envelope(``, shell),
		`not xml`,
		``,
		`<`,
		`<s:Envelope xmlns:s="` + nsSOAP + `"><s:Body><rsp:Shell xmlns:rsp="` + nsShell + `" Name="a<b"/></s:Body></s:Envelope>`,
	}
}

// The scanner-based parsers give what the encoding/xml ones gave, for every answer the
// reference reads (the scanner refuses DOCTYPEs, which encoding/xml skips).
func TestParsersAgreeWithEncodingXML(t *testing.T) {
	t.Parallel()
	for i, c := range answerCases() {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			compareParsers(t, []byte(c))
		})
	}
}

func compareParsers(t *testing.T, resp []byte) {
	t.Helper()
	doctype := bytes.Contains(resp, []byte("<!DOCTYPE"))
	id, err := parseCreate(resp)
	rid, rerr := refParseCreate(resp)
	if (err == nil) != (rerr == nil) && !(doctype && err != nil) || (err == nil && id != rid) {
		t.Errorf("parseCreate(%q) = %q, %v; encoding/xml: %q, %v", resp, id, err, rid, rerr)
	}
	cid, err := parseCommand(resp)
	rcid, rerr := refParseCommand(resp)
	if (err == nil) != (rerr == nil) && !(doctype && err != nil) || (err == nil && cid != rcid) {
		t.Errorf("parseCommand(%q) = %q, %v; encoding/xml: %q, %v", resp, cid, err, rcid, rerr)
	}
	out, errs := []byte("before"), []byte("x")
	rout, rerrs := []byte("before"), []byte("x")
	done, code, err := parseReceive(resp, &out, &errs)
	rdone, rcode, rerr := refParseReceive(resp, &rout, &rerrs)
	if (err == nil) != (rerr == nil) && !(doctype && err != nil) {
		t.Errorf("parseReceive(%q): error %v; encoding/xml: %v", resp, err, rerr)
	}
	if err == nil && (done != rdone || code != rcode || !bytes.Equal(out, rout) || !bytes.Equal(errs, rerrs)) {
		t.Errorf("parseReceive(%q) = %v %d %q %q; encoding/xml: %v %d %q %q", resp, done, code, out, errs, rdone, rcode, rout, rerrs)
	}
	if err != nil && (string(out) != "before" || string(errs) != "x") && !strings.Contains(err.Error(), "exit code") {
		t.Errorf("parseReceive(%q) failed (%v) but changed the output: %q %q", resp, err, out, errs)
	}
}

// Parsing an answer allocates only the values it returns (encoding/xml: 100 to 200
// allocations per answer).
func TestParsersAllocateLittle(t *testing.T) {
	cases := answerCases()
	for _, tc := range []struct {
		name string
		resp string
		max  float64
		run  func([]byte)
	}{
		{"create", cases[0], 1, func(b []byte) { _, _ = parseCreate(b) }},
		{"command", cases[10], 1, func(b []byte) { _, _ = parseCommand(b) }},
		{"receive", cases[14], 2, func(b []byte) { // 2: the output buffers, which escape
			var o, e []byte
			_, _, _ = parseReceive(b, &o, &e)
		}},
	} {
		b := []byte(tc.resp)
		if n := testing.AllocsPerRun(50, func() { tc.run(b) }); n > tc.max {
			t.Errorf("%s: %.0f allocations, want at most %.0f", tc.name, n, tc.max)
		}
	}
}
