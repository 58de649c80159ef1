package client

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
)

func TestParseSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"113", ScheduleUpdateScan, true},
		{"021", ScheduleMachinePolicy, true},
		{" {00000000-0000-0000-0000-000000000108} ", ScheduleUpdateEval, true},
		{"21", "", false},
		{"1130", "", false},
		{"{00000000-0000-0000-0000-00000000011}", "", false},
		{"113'; Restart-Computer", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, err := ParseSchedule(tc.in)
		if tc.ok != (err == nil) || got != tc.want {
			t.Errorf("ParseSchedule(%q) = %q, %v", tc.in, got, err)
		}
		if err != nil && exit.Code(err) != exit.Usage {
			t.Errorf("ParseSchedule(%q): exit code %d", tc.in, exit.Code(err))
		}
	}
}

// recorder is a Runner that answers with a fixed JSON object and records the call.
type recorder struct {
	script string
	params string
	answer string
	err    error
}

func (r *recorder) Run(_ context.Context, script string, params, out any) error {
	r.script = script
	b, _ := json.Marshal(params)
	r.params = string(b)
	if r.err != nil {
		return r.err
	}
	return json.Unmarshal([]byte(r.answer), out)
}

func TestActions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := &recorder{answer: `{"scheduleId":"{00000000-0000-0000-0000-000000000113}","returnValue":0}`}
	if res, err := TriggerSchedule(ctx, r, "113"); err != nil || r.script != "client-trigger-schedule" ||
		r.params != `{"ScheduleID":"{00000000-0000-0000-0000-000000000113}","SendStateMessages":true}` || Describe(res) != "triggered "+ScheduleUpdateScan {
		t.Errorf("scan: %+v %v %s %s", res, err, r.script, r.params)
	}
	if d := Describe(Triggered{ScheduleID: ScheduleUpdateScan, StateMessagesSent: true}); d != "triggered "+ScheduleUpdateScan+", then sent state messages" {
		t.Errorf("Describe = %q", d)
	}
	if _, err := TriggerSchedule(ctx, r, "108"); err != nil || r.params != `{"ScheduleID":"{00000000-0000-0000-0000-000000000108}"}` {
		t.Errorf("evaluation sent %s, %v; state messages go only with a scan", r.params, err)
	}
	if _, err := TriggerSchedule(ctx, r, "bad"); exit.Code(err) != exit.Usage {
		t.Errorf("bad schedule reached the host: %v", err)
	}
	r = &recorder{answer: `{"started":2,"articleIds":["5071234","5071240"],"returnValue":0}`}
	res, err := Install(ctx, r, nil)
	if err != nil || res.Started != 2 || r.params != `{}` || Describe(res) != "2 updates queued: 5071234, 5071240" {
		t.Errorf("install: %+v %v %s", res, err, r.params)
	}
	r = &recorder{answer: `{"pending":true,"hard":true,"inGracePeriod":false,"deadline":"2026-12-09T04:00:00Z"}`}
	rb, err := RebootPending(ctx, r)
	if err != nil || !rb.Hard || rb.Deadline == nil || !rb.Deadline.Equal(time.Date(2026, 12, 9, 4, 0, 0, 0, time.UTC)) || Describe(rb) != "hard restart pending" {
		t.Errorf("reboot pending: %+v %v", rb, err)
	}
	r = &recorder{answer: `{"restarted":false,"reason":"users-logged-on","users":["LAB\\jdoe"]}`}
	rs, err := Restart(ctx, r, true)
	if err != nil || rs.Restarted || r.params != `{"OnlyIfNobodyLoggedOn":true}` || !strings.Contains(Describe(rs), `LAB\jdoe`) {
		t.Errorf("restart: %+v %v %s", rs, err, r.params)
	}
	r = &recorder{answer: `{"source":"quser","count":2,"active":1,"sessions":[{"user":"LAB\\a"},{"user":"lab\\A"}]}`}
	ss, err := LoggedOn(ctx, r)
	if err != nil || ss.Users() != `LAB\a` || !strings.HasPrefix(Describe(ss), "2 sessions") {
		t.Errorf("logged on: %+v %v %q", ss, err, ss.Users())
	}
	boom := errors.New("host unreachable")
	if _, err := Install(ctx, &recorder{err: boom}, nil); !errors.Is(err, boom) {
		t.Errorf("runner error lost: %v", err)
	}
}
