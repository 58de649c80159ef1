package site

import (
	"fmt"
	"strings"
)

// Flag scans a yes/no column from either engine: a bool (a bit column on SQL Server, a
// BIT column of the lab), an integer (an int column, or an expression such as
// COALESCE(bit, 0) or CASE, which SQL Server types as int), or NULL (false). Non-zero is
// true. Use it for every flag column, and always for those whose SQL type on a site is
// unconfirmed (reference 1.2 "Types"): then the product reads the column whichever type
// the site has.
type Flag bool

// Scan implements sql.Scanner.
func (f *Flag) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*f = false
	case bool:
		*f = Flag(x)
	case int64:
		*f = x != 0
	case int32:
		*f = x != 0
	case int:
		*f = x != 0
	case uint8:
		*f = x != 0
	case []byte:
		return f.parse(string(x))
	case string:
		return f.parse(x)
	default:
		return fmt.Errorf("cannot scan %T into a flag", v)
	}
	return nil
}

func (f *Flag) parse(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true":
		*f = true
	case "0", "false", "":
		*f = false
	default:
		return fmt.Errorf("cannot scan %q into a flag", s)
	}
	return nil
}

// Bool returns the flag as a bool.
func (f Flag) Bool() bool { return bool(f) }
