package lab

import (
	"encoding/xml"
	"reflect"
	"strings"
	"testing"
)

// wsDecode reads a Send's long base64 stdin without encoding/xml walking it, and gives
// the same envelope as a whole decode, for every shape: a long Send, a short one, a long
// text that is not base64 (entities), and a message whose long text is not a Send's.
func TestWSDecodeSameAsWholeDecode(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("QUJDRA==", 2000)
	env := func(body string) string {
		return `<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">` +
			`<env:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Send</a:Action><a:MessageID>uuid:1</a:MessageID>` +
			`<w:SelectorSet><w:Selector Name="ShellId">S1</w:Selector></w:SelectorSet></env:Header><env:Body>` + body + `</env:Body></env:Envelope>`
	}
	for _, tc := range []struct{ name, body string }{
		{"long send", `<rsp:Send><rsp:Stream Name="stdin" CommandId="C1" End="true">` + long + `</rsp:Stream></rsp:Send>`},
		{"short send", `<rsp:Send><rsp:Stream Name="stdin" CommandId="C1">QUJD</rsp:Stream></rsp:Send>`},
		{"long text with an entity", `<rsp:Send><rsp:Stream Name="stdin" CommandId="C1">` + long + `&amp;` + long + `</rsp:Stream></rsp:Send>`},
		{"two streams", `<rsp:Send><rsp:Stream Name="stdin" CommandId="C1">` + long + `</rsp:Stream><rsp:Stream Name="stdin" CommandId="C1">QUJD</rsp:Stream></rsp:Send>`},
		{"long text elsewhere", `<rsp:Signal CommandId="C1"><rsp:Code>` + long + `</rsp:Code></rsp:Signal>`},
	} {
		var got, want wsEnvelope
		errGot := wsDecode([]byte(env(tc.body)), &got)
		errWant := xml.Unmarshal([]byte(env(tc.body)), &want)
		if (errGot == nil) != (errWant == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: wsDecode = %+v, %v; xml.Unmarshal = %+v, %v", tc.name, got, errGot, want, errWant)
		}
	}
	if err := wsDecode([]byte(env(`<rsp:Send><rsp:Stream Name="stdin">`+long+`</rsp:Send>`)), new(wsEnvelope)); err == nil {
		t.Error("a malformed Send decoded")
	}
}
