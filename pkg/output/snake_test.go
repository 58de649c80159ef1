package output

import (
	"encoding/json"
	"testing"
)

func TestSnakeCase(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"scheduleId":        "schedule_id",
		"articleIds":        "article_ids",
		"inGracePeriod":     "in_grace_period",
		"stateMessagesSent": "state_messages_sent",
		"operationID":       "operation_id",
		"KBArticleIDs":      "kb_article_ids",
		"IDs":               "ids",
		"total_clients":     "total_clients",
		"returnValue":       "return_value",
		"ok":                "ok",
		"win32Error":        "win32_error",
	} {
		if got := SnakeCase(in); got != want {
			t.Errorf("SnakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSnakeKeys(t *testing.T) {
	t.Parallel()
	type session struct {
		LogonTime string `json:"logonTime"`
	}
	type wire struct {
		ReturnValue int64     `json:"returnValue"`
		Sessions    []session `json:"sessions"`
		Big         uint64    `json:"bigNumber"`
	}
	v, err := SnakeKeys(wire{ReturnValue: 5, Sessions: []session{{LogonTime: "x"}}, Big: 1<<63 + 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"big_number":9223372036854775809,"return_value":5,"sessions":[{"logon_time":"x"}]}`; string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
