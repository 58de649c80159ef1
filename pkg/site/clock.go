package site

import (
	"context"
	"fmt"
	"time"
)

// Clock is the database server's clock: its UTC time and the offset of its local time from
// UTC. The doctor holds the fast channel's times (v_CombinedDeviceResources.CNLastOnlineTime)
// against both, to tell whether the site keeps them in UTC, as patchnight reads them.
type Clock struct {
	UTC    time.Time     `json:"utc"`
	Offset time.Duration `json:"offset"` // local time minus UTC; 0 in the lab
}

// Fixed text, nothing of the user's. SYSUTCDATETIME and SYSDATETIMEOFFSET are the server's
// clock (T-SQL date and time functions); DATEPART(TZOFFSET, ...) is the offset in minutes.
// SQLite's 'now' is UTC, and the lab keeps every time in UTC: its offset is 0.
const (
	sqlServerClock = `SELECT SYSUTCDATETIME(), DATEPART(TZOFFSET, SYSDATETIMEOFFSET())`
	sqliteClock    = `SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')`
)

// Clock reads the database server's clock.
func (d *DB) Clock(ctx context.Context) (Clock, error) {
	var c Clock
	var now NullTime
	switch d.kind {
	case SQLServer:
		var minutes int64
		if err := d.db.QueryRowContext(ctx, sqlServerClock).Scan(&now, &minutes); err != nil {
			return c, fmt.Errorf("read the server's clock on %s: %w", d.redacted, err)
		}
		c.Offset = time.Duration(minutes) * time.Minute
	default:
		if err := d.db.QueryRowContext(ctx, sqliteClock).Scan(&now); err != nil {
			return c, fmt.Errorf("read the clock of %s: %w", d.redacted, err)
		}
	}
	if !now.Valid {
		return c, fmt.Errorf("the server's clock on %s answered NULL", d.redacted)
	}
	c.UTC = now.Time
	return c, nil
}
