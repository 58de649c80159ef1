// Package queries holds every SQL statement patchnight runs against a site database, one
// file per query, embedded into the binary.
//
// Rules (DESIGN.md, "SQL portability"): the same text must run on SQL Server and on the
// SQLite lab, so parameters are @name only, and the statements avoid TOP/LIMIT, ISNULL,
// GETDATE(), LEN, N'...' literals and + string concatenation. "Now" is passed as @now.
// Times are UTC.
package queries

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.sql
var files embed.FS

// Get returns the text of the named query (the file name without .sql).
func Get(name string) (string, error) {
	b, err := files.ReadFile(name + ".sql")
	if err != nil {
		return "", fmt.Errorf("query %q is not in queries/: %w", name, err)
	}
	return string(b), nil
}

// Names lists every embedded query, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".sql"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}
