package doctor

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/site"
)

// clockSite is the lab's site database with the database server's clock set by the test:
// the lab's SQLite keeps UTC and has no offset, a SQL Server may have one.
type clockSite struct {
	*site.DB
	clock site.Clock
	err   error
}

func (c clockSite) Clock(context.Context) (site.Clock, error) { return c.clock, c.err }

// TestCheckFastChannelTimes: the latest time a client online now came online, read from
// the lab's v_CombinedDeviceResources, held against the server's UTC and local clocks.
func TestCheckFastChannelTimes(t *testing.T) {
	t.Parallel()
	latestOf := func(t *testing.T, db *site.DB) time.Time {
		var online int64
		var latest site.NullTime
		if err := db.Each(t.Context(), "doctor_fast_channel", nil, func(r *sql.Rows) error { return r.Scan(&online, &latest) }); err != nil {
			t.Fatal(err)
		}
		if online == 0 || !latest.Valid {
			t.Fatalf("the lab has %d clients online, latest %+v", online, latest)
		}
		return latest.Time
	}
	const h, m = time.Hour, time.Minute
	tests := []struct {
		name   string
		change string
		after  time.Duration // the server's UTC clock, after the latest online time
		offset time.Duration
		err    error
		status Status
		words  []string
	}{
		{"server keeps UTC", "", 3 * m, 0, nil, OK, []string{"UTC either way"}},
		{"east, UTC times", "", 3 * m, h, nil, OK, []string{"look like UTC", "3m0s ago if the times are UTC", "1h3m0s ago if", "UTC+1"}},
		{"east, local times", "", -40 * m, h, nil, Warn, []string{"look like local time", "20m0s ago if they are", "misjudge"}},
		{"west, UTC times", "", 3 * m, -5 * h, nil, OK, []string{"look like UTC", "UTC-5"}},
		{"west, local times", "", 5*h + 3*m, -5 * h, nil, Warn, []string{"look like local time", "5h3m0s ago if the times are UTC"}},
		{"half-hour zone", "", 3 * m, 5*h + 30*m, nil, OK, []string{"UTC+5:30"}},
		{"ahead of both clocks", "", -2 * h, h, nil, Warn, []string{"ahead of the server's clock", "check the clocks"}},
		{"nobody online", "UPDATE lab_host SET Power = 'off'", 0, h, nil, Warn, []string{"no client is online", "cannot tell"}},
		{"clock unreadable", "", 0, 0, errors.New("read the server's clock: denied"), Warn, []string{"denied"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := labSite(t, tc.change)
			at := testNow
			if tc.change == "" && tc.err == nil {
				at = latestOf(t, db).Add(tc.after)
			}
			res := checkFastChannelTimes(t.Context(), Options{Site: clockSite{DB: db, clock: site.Clock{UTC: at, Offset: tc.offset}, err: tc.err}})
			if len(res) != 1 {
				t.Fatalf("%d results", len(res))
			}
			r := res[0]
			text := r.Message + " | " + r.Fix
			if r.Status != tc.status || r.Check != "fast-channel-times" {
				t.Errorf("%s %s: %s", r.Check, r.Status, text)
			}
			for _, w := range tc.words {
				if !strings.Contains(text, w) {
					t.Errorf("%q lacks %q", text, w)
				}
			}
			if r.Status == Warn && r.Fix == "" {
				t.Errorf("a warning without what to do: %s", r.Message)
			}
			if (tc.offset != 0 && tc.err == nil) != r.Unconfirmed {
				t.Errorf("unconfirmed %v for offset %s", r.Unconfirmed, tc.offset)
			}
		})
	}
}

// TestLabClock: the lab's server clock is UTC, now, with no offset.
func TestLabClock(t *testing.T) {
	t.Parallel()
	db := labSite(t, "")
	before := time.Now().UTC().Add(-time.Second)
	c, err := db.Clock(t.Context())
	after := time.Now().UTC().Add(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c.Offset != 0 || c.UTC.Before(before) || c.UTC.After(after) || c.UTC.Location() != time.UTC {
		t.Errorf("lab clock %+v, want UTC between %s and %s", c, before, after)
	}
}
