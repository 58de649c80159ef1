package lab

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// labViewColumns reads every view of a generated lab and its columns, from SQLite itself.
func labViewColumns(t *testing.T) map[string][]string {
	t.Helper()
	db := openRO(t, labPath(t))
	out := map[string][]string{}
	for _, v := range viewNames(t) {
		rows, err := db.Query(`SELECT name FROM pragma_table_info(?)`, v)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			out[v] = append(out[v], c)
		}
		rows.Close()
		if len(out[v]) == 0 {
			t.Fatalf("view %s has no columns", v)
		}
	}
	return out
}

// Every column a lab view exposes carries a source in columns.go, and every entry there is
// a column the lab has: a column the reference does not know cannot slip into the lab.
func TestViewColumnsHaveSources(t *testing.T) {
	t.Parallel()
	listed := map[string]string{}
	for _, c := range viewColumns() {
		k := c.view + "." + c.column
		if _, dup := listed[k]; dup {
			t.Errorf("columns.go lists %s twice", k)
		}
		if strings.TrimSpace(c.source) == "" {
			t.Errorf("columns.go lists %s without a source", k)
		}
		listed[k] = c.source
	}
	have := map[string]bool{}
	for v, cols := range labViewColumns(t) {
		for _, c := range cols {
			k := v + "." + c
			have[k] = true
			if _, ok := listed[k]; !ok {
				t.Errorf("lab view column %s has no source in pkg/lab/columns.go: find one (configmgr.md, or "+
					"add it with its source to docs/reference-additions.md) or take the column out of the lab", k)
			}
		}
	}
	for k := range listed {
		if !have[k] {
			t.Errorf("columns.go lists %s, which no lab view has", k)
		}
	}
}

// repoRoot is the directory holding go.mod above the test's working directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// Every listed column name, and every view name, appears in the shared reference or in the
// project's own additions to it.
func TestViewColumnSourcesAreInTheReference(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	refPath := filepath.Join(root, "..", "shared", "reference", "configmgr.md")
	ref, err := os.ReadFile(refPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the reference %s is missing: check out shared/ beside the repository (CI does), "+
			"so that the lab's columns can be checked against it", refPath)
	}
	if err != nil {
		t.Fatal(err)
	}
	add, err := os.ReadFile(filepath.Join(root, "docs", "reference-additions.md"))
	if err != nil {
		t.Fatalf("docs/reference-additions.md: %v", err)
	}
	text := string(ref) + "\n" + string(add)
	mentions := func(word string) bool {
		return regexp.MustCompile(`(^|[^A-Za-z0-9_])` + regexp.QuoteMeta(word) + `($|[^A-Za-z0-9_])`).MatchString(text)
	}
	seen := map[string]bool{}
	for _, c := range viewColumns() {
		if !mentions(c.column) {
			t.Errorf("%s.%s: the column is in neither configmgr.md nor docs/reference-additions.md", c.view, c.column)
		}
		if strings.HasPrefix(c.source, "additions:") && !strings.Contains(string(add), "| "+c.view+" | "+c.column+" |") {
			t.Errorf("%s.%s: its source is docs/reference-additions.md, which has no row for it", c.view, c.column)
		}
		if seen[c.view] {
			continue
		}
		seen[c.view] = true
		// The reference abbreviates sibling views: "v_RA_System_IPAddresses / _IPSubnets".
		short := c.view[strings.LastIndex(c.view, "_"):]
		if !mentions(c.view) && !(strings.HasPrefix(c.view, "v_RA_System_") && mentions(short)) {
			t.Errorf("view %s is in neither configmgr.md nor docs/reference-additions.md", c.view)
		}
	}
	if !slices.ContainsFunc(viewColumns(), func(c viewColumn) bool { return c.view == "v_CIAssignmentToGroup" }) {
		t.Error("columns.go lost v_CIAssignmentToGroup")
	}
}

// No lab view carries the invented v_CIAssignment.AssignedGroupCI_ID (issue 11): a query
// reading it fails here as it fails on a site (SQL error 207).
func TestNoInventedAssignmentGroupColumn(t *testing.T) {
	t.Parallel()
	db := openRO(t, labPath(t))
	if _, err := db.Exec(`SELECT AssignedGroupCI_ID FROM v_CIAssignment WHERE 1 = 0`); err == nil ||
		!strings.Contains(err.Error(), "no such column") {
		t.Fatalf("v_CIAssignment.AssignedGroupCI_ID answers: %v", err)
	}
}
