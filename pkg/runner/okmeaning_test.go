package runner_test

import (
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/night"
	"github.com/patchnight/patchnight/pkg/runner"
)

// A notice step counts a machine ok when it was told, and also when it was escalated
// instead of told (notify records both as ok): the step line must say so, or a run that
// only escalates reads "9 told" next to the notifier's "0 told, 9 escalated".
func TestOKMeaningOfNoticeSteps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		action night.Action
		want   []string
	}{
		{night.NotifyMissing, []string{"told", "escalated"}},
		{night.NotifyScan, []string{"told", "scan started"}},
	} {
		got := runner.OKMeaning(tc.action)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("OKMeaning(%s) = %q, want it to name %q", tc.action, got, w)
			}
		}
	}
}
