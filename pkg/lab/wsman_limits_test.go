package lab_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/masterzen/winrm"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/scripts"
)

// A request envelope larger than the service's MaxEnvelopeSizekb is refused with the
// WS-Man fault Windows gives (0x80338111); one just under it is served.
func TestWSManRefusesEnvelopeOverMaxEnvelopeSize(t *testing.T) {
	t.Parallel()
	s := startWSMan(t, lab.OpHandlerFunc(echo), lab.WSManOptions{}, nil)
	base := createBody()
	pad := func(total int) string {
		// An XML comment before the end of the envelope: valid SOAP of the wanted size.
		n := total - len(base) - len("<!--  -->")
		return strings.Replace(base, "</env:Envelope>", "<!-- "+strings.Repeat("x", n)+" --></env:Envelope>", 1)
	}
	if !strings.Contains(base, "</env:Envelope>") {
		t.Fatalf("unexpected envelope: %.200s", base)
	}
	for _, tc := range []struct {
		size   int
		status int
	}{
		{lab.DefaultMaxEnvelopeSize, http.StatusOK},
		{lab.DefaultMaxEnvelopeSize + 1, http.StatusInternalServerError},
	} {
		body := pad(tc.size)
		if len(body) != tc.size {
			t.Fatalf("padded to %d, want %d", len(body), tc.size)
		}
		resp, err := rawPost(s, "pc1.lab", body)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status {
			t.Errorf("%d bytes: HTTP %d, want %d: %.300s", tc.size, resp.StatusCode, tc.status, b)
		}
		if tc.status != http.StatusOK && (!strings.Contains(string(b), `Code="2150859025"`) || !strings.Contains(string(b), "MaxEnvelopeSize")) {
			t.Errorf("fault body: %.500s", b)
		}
	}
	st := s.w.Stats()
	if st.TooLarge != 1 || st.MaxEnvelope["Create"] != int64(lab.DefaultMaxEnvelopeSize+1) {
		t.Errorf("stats: too large %d, max %v", st.TooLarge, st.MaxEnvelope)
	}
}

// The endpoint's bootstrap parses the parameters as Windows PowerShell 5.1's
// ConvertFrom-Json does: over 2,097,152 characters it fails with the cmdlet's message,
// and the handler never runs.
func TestWSManBootstrapRefusesJSONOverMaxJSONLength(t *testing.T) {
	t.Parallel()
	var ran atomic.Int32
	s := startWSMan(t, lab.OpHandlerFunc(func(ctx context.Context, host, op string, params json.RawMessage) (json.RawMessage, error) {
		ran.Add(1)
		return echo(ctx, host, op, params)
	}), lab.WSManOptions{}, nil)
	// The library client with a smaller envelope, so its (unencoded) chunks fit the lab.
	ep := winrm.NewEndpoint(s.host, s.port, false, false, nil, nil, nil, 0)
	c, err := winrm.NewClientWithParameters(ep, wsUser, wsPass, winrm.NewParameters("PT5S", "en-US", 80000))
	if err != nil {
		t.Fatal(err)
	}
	params := []byte(`{"v":"` + strings.Repeat("a", scripts.MaxParamsChars-7) + `"}`)
	stdin := scripts.Input(mustScript(t, "probe"), params)
	out, _, code, err := c.RunWithContextWithString(context.Background(), scripts.Command(), string(stdin))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if jerr := json.Unmarshal([]byte(strings.TrimSpace(out)), &got); jerr != nil || code != 1 ||
		got.Error.Code != "exception" || got.Error.Message != scripts.ParamsTooLongMessage {
		t.Errorf("code %d, stdout %.300q", code, out)
	}
	if ran.Load() != 0 {
		t.Errorf("the handler ran on parameters the bootstrap cannot parse")
	}
}
