package remote

import (
	"sync"
	"testing"
	"time"
)

// TestAuthTimeUnique: authenticators of one login never share a time to the microsecond,
// whatever the clock says and however many hosts ask at once (a service would take the
// second for a replay), and the time stays the clock's when it moves on.
func TestAuthTimeUnique(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 8, 20, 0, 0, 123456789, time.UTC)
	cases := []struct {
		name  string
		clock func(i int) time.Time
	}{
		{"the same instant", func(int) time.Time { return now }},
		{"within one microsecond", func(i int) time.Time { return now.Add(time.Duration(i%1000) * time.Nanosecond) }},
		{"the clock steps back", func(i int) time.Time { return now.Add(-time.Duration(i) * time.Millisecond) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var k kerberosLogin
			const n = 2000
			got := make([]time.Time, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i] = k.authTime(tc.clock(i))
				}()
			}
			wg.Wait()
			seen := map[time.Time]bool{}
			for _, g := range got {
				if seen[g] {
					t.Fatalf("two authenticators at %s", g.Format(time.RFC3339Nano))
				}
				if g.Nanosecond()%1000 != 0 {
					t.Fatalf("%s is not whole microseconds", g.Format(time.RFC3339Nano))
				}
				seen[g] = true
			}
		})
	}
	var k kerberosLogin
	later := now.Add(time.Second)
	if k.authTime(now); !k.authTime(later).Equal(later.Truncate(time.Microsecond)) {
		t.Error("a later clock is not taken as it is")
	}
}
