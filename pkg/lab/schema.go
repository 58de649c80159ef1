package lab

import (
	_ "embed"
	"strings"
)

//go:embed schema.sql
var schemaSQL string

// schemaParts splits schema.sql into the statements to run before the bulk load (tables,
// views, and the index on lab_update_state) and the other index statements, which Generate
// runs after it: building an index once over the loaded rows is cheaper than keeping it up
// to date row by row. lab_update_state_ci is the exception: its rows arrive grouped by host,
// so each insert lands on one of a few hundred hot pages, and keeping it up to date measured
// about a third faster than sorting millions of entries afterwards.
func schemaParts() (create, indexes []string) {
	for stmt := range strings.SplitSeq(stripSQLComments(schemaSQL), ";") {
		body := strings.TrimSpace(stmt)
		if body == "" {
			continue
		}
		upper := strings.ToUpper(body)
		if (strings.HasPrefix(upper, "CREATE INDEX") || strings.HasPrefix(upper, "CREATE UNIQUE INDEX")) &&
			!strings.Contains(body, "lab_update_state_ci") {
			indexes = append(indexes, body)
		} else {
			create = append(create, body)
		}
	}
	return create, indexes
}

// stripSQLComments drops -- comments and blank lines. schema.sql has no "--" and no ";"
// inside string literals, so the statements can then be split at ";".
func stripSQLComments(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return strings.TrimSpace(b.String())
}
