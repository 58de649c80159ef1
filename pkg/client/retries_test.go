package client

import "testing"

func TestRetriesNeverForARestart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		restart   bool
		transient int
		want      int
	}{
		{false, 2, 2},
		{false, 0, 0},
		{true, 2, 0},
		{true, 0, 0},
	} {
		if got := Retries(tc.restart, tc.transient); got != tc.want {
			t.Errorf("Retries(%v, %d) = %d, want %d", tc.restart, tc.transient, got, tc.want)
		}
	}
}
