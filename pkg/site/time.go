package site

import (
	"fmt"
	"time"
)

// NullTime scans a datetime column from either engine: SQL Server returns time.Time, the
// lab returns UTC text. Valid is false for NULL.
type NullTime struct {
	Time  time.Time
	Valid bool
}

var textLayouts = []string{SQLiteTimeLayout, "2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano, "2006-01-02"}

// Scan implements sql.Scanner.
func (t *NullTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*t = NullTime{}
		return nil
	case time.Time:
		*t = NullTime{Time: x.UTC(), Valid: true}
		return nil
	case string:
		return t.parse(x)
	case []byte:
		return t.parse(string(x))
	}
	return fmt.Errorf("cannot scan %T into a time", v)
}

func (t *NullTime) parse(s string) error {
	if s == "" {
		*t = NullTime{}
		return nil
	}
	for _, l := range textLayouts {
		if v, err := time.Parse(l, s); err == nil {
			*t = NullTime{Time: v.UTC(), Valid: true}
			return nil
		}
	}
	return fmt.Errorf("cannot parse time %q", s)
}

// Ptr returns a pointer to the time, or nil when not valid (for JSON output).
func (t NullTime) Ptr() *time.Time {
	if !t.Valid {
		return nil
	}
	v := t.Time
	return &v
}
