package provider

import (
	"context"
	"errors"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/scripts"
)

// MachinesToWakeup sends the collection and the machines as the method's string
// parameter and returns NumSleepers as the site answered it, not the number asked for.
func TestMachinesToWakeup(t *testing.T) {
	t.Parallel()
	if text, err := scripts.Get(ScriptWake); err != nil {
		t.Fatal(err)
	} else if op, v := scripts.Op(text); op != ScriptWake || v != 1 {
		t.Fatalf("op header %q/%d", op, v)
	}
	for _, tc := range []struct {
		name  string
		ids   []int64
		reply string
		want  uint32
		sent  string
	}{
		{"some", []int64{16777220, 16777221, 16777222}, `{"numSleepers": 2}`, 2,
			`{"SiteCode":"LAB","CollectionID":"LAB00012","MachineIDs":"16777220,16777221,16777222"}`},
		{"none-awake", []int64{16777220}, `{"numSleepers": 0}`, 0,
			`{"SiteCode":"LAB","CollectionID":"LAB00012","MachineIDs":"16777220"}`},
		{"whole-collection", nil, `{"numSleepers": 40}`, 40,
			`{"SiteCode":"LAB","CollectionID":"LAB00012","MachineIDs":""}`},
	} {
		p, r := newTest(t, tc.reply)
		n, err := p.MachinesToWakeup(context.Background(), "LAB00012", tc.ids)
		if err != nil || n != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, n, err, tc.want)
		}
		if len(r.calls) != 1 || r.calls[0] != ScriptWake || r.params[0] != tc.sent {
			t.Errorf("%s: sent %v %v", tc.name, r.calls, r.params)
		}
	}
	p, r := newTest(t, `{"numSleepers": 1}`)
	for _, tc := range []struct {
		coll string
		ids  []int64
	}{
		{"SMS00001", nil},        // built in: the site does not wake through it
		{"LAB00012", []int64{0}}, // not a ResourceID
		{"LAB00012", []int64{1 << 33}},
		{"LAB0001'", nil},
	} {
		_, err := p.MachinesToWakeup(context.Background(), tc.coll, tc.ids)
		var xe *exit.Error
		if !errors.As(err, &xe) || xe.Code != exit.Usage {
			t.Errorf("%s %v: want a usage error, got %v", tc.coll, tc.ids, err)
		}
	}
	if len(r.calls) != 0 {
		t.Errorf("refused requests were sent: %v", r.calls)
	}
}
