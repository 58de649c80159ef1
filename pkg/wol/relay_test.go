package wol

import (
	"reflect"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/scripts"
)

// TestRelayScriptMatchesRequest ties scripts/wol-relay.ps1 to RelayRequest: the script is
// the wol-relay/1 operation, reads every field RelayRequest sends under its JSON name,
// sends from an IPv4 UdpClient with broadcast enabled, refuses a broadcast that is not one
// of its own subnets, and answers one compressed JSON object with "sent".
func TestRelayScriptMatchesRequest(t *testing.T) {
	t.Parallel()
	text, err := scripts.Get("wol-relay")
	if err != nil {
		t.Fatal(err)
	}
	if op, v := scripts.Op(text); op != "wol-relay" || v != 1 {
		t.Fatalf("op line: %s/%d", op, v)
	}
	rt := reflect.TypeFor[RelayRequest]()
	for i := range rt.NumField() {
		tag, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
		if !strings.Contains(text, "$p."+tag) {
			t.Errorf("script does not read $p.%s", tag)
		}
	}
	for _, want := range []string{
		"param($p)",
		"System.Net.Sockets.UdpClient([System.Net.Sockets.AddressFamily]::InterNetwork)",
		"EnableBroadcast = $true",
		"'not-local-subnet'",
		"ConvertTo-Json -Compress",
		"sent = $sent",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("script lacks %q", want)
		}
	}
}
