package labprovider_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/lab/labprovider"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/scripts"
)

// The provider double refuses a parameter object the bootstrap's ConvertFrom-Json cannot
// parse on Windows PowerShell 5.1 (over 2,097,152 characters), with the cmdlet's message,
// and changes nothing; one at the limit is parsed (and then judged on its content).
func TestLabProviderRefusesJSONOverMaxJSONLength(t *testing.T) {
	t.Parallel()
	db := openLab(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		chars int
		code  string
	}{
		{"over", scripts.MaxParamsChars + 1, "exception"},
		{"at", scripts.MaxParamsChars, "bad-parameter"},
	} {
		// {"SiteCode":"LAB","Pad":"aaa..."}: valid JSON of exactly tc.chars characters.
		head := `{"SiteCode":"LAB","Pad":"`
		params := []byte(head + strings.Repeat("a", tc.chars-len(head)-2) + `"}`)
		if len(params) != tc.chars {
			t.Fatalf("built %d characters", len(params))
		}
		_, err := labprovider.HandleOp(ctx, db, provider.ScriptCollections, params, labNow)
		var le *labprovider.Error
		if !errors.As(err, &le) || le.Code != tc.code {
			t.Fatalf("%s: want %s, got %v", tc.name, tc.code, err)
		}
		if tc.code == "exception" && le.Message != scripts.ParamsTooLongMessage {
			t.Errorf("message %q", le.Message)
		}
	}
}
