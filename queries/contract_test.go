package queries_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

// TestContractsCoverEveryQuery: every query has exactly one contract, and the contract's
// parameters are the @names its text uses.
func TestContractsCoverEveryQuery(t *testing.T) {
	t.Parallel()
	paramRE := regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]*)`)
	byName := map[string]queries.Contract{}
	for _, c := range queries.Contracts() {
		if _, dup := byName[c.Query]; dup {
			t.Errorf("two contracts for %s", c.Query)
		}
		byName[c.Query] = c
	}
	for _, n := range queries.Names() {
		c, ok := byName[n]
		if !ok {
			t.Errorf("query %s has no contract", n)
			continue
		}
		delete(byName, n)
		text, err := queries.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		var uses []string
		for line := range strings.SplitSeq(text, "\n") {
			if i := strings.Index(line, "--"); i >= 0 {
				line = line[:i]
			}
			for _, m := range paramRE.FindAllStringSubmatch(line, -1) {
				if !slices.Contains(uses, m[1]) {
					uses = append(uses, m[1])
				}
			}
		}
		var declared []string
		for _, p := range c.Params {
			declared = append(declared, p.Name)
		}
		slices.Sort(uses)
		slices.Sort(declared)
		if !slices.Equal(uses, declared) {
			t.Errorf("%s: the text uses %v, the contract declares %v", n, uses, declared)
		}
		if len(c.Columns) == 0 {
			t.Errorf("%s: the contract has no columns", n)
		}
	}
	for n := range byName {
		t.Errorf("contract for %s, which is not a query", n)
	}
}

func TestParamList(t *testing.T) {
	t.Parallel()
	c, err := queries.ContractOf("scan_status")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.ParamList(), "@collection nvarchar(4000), @late_before datetime2"; got != want {
		t.Errorf("ParamList = %q, want %q", got, want)
	}
	if _, err := queries.ContractOf("nosuch"); err == nil {
		t.Error("ContractOf(nosuch) found a contract")
	}
}

// TestContractsMatchLab runs every query on a generated lab, with parameters that make
// most of them return rows, and holds what comes back against the contract: the column
// names in order, and each value's Go type against the column's kind (int and flag:
// int64, flag only 0 or 1; string: string; time: the lab's UTC text). So a contract cannot
// drift from its query.
func TestContractsMatchLab(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lab.db")
	if _, err := lab.Generate(t.Context(), path, lab.Options{Hosts: 300, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	db, err := site.Open(t.Context(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	one := func(q string) any {
		var v any
		if err := raw.QueryRowContext(t.Context(), q).Scan(&v); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	group := one(`SELECT MIN(CI_ID) FROM v_AuthListInfo`)
	article := one(`SELECT MIN(ui.ArticleID) FROM v_UpdateComplianceStatus ucs JOIN v_UpdateInfo ui ON ui.CI_ID = ucs.CI_ID WHERE ucs.Status = 2`)
	bulletin := one(`SELECT MIN(BulletinID) FROM v_UpdateInfo WHERE BulletinID <> ''`)
	host := one(`SELECT MIN(h.Name0) FROM v_R_System h JOIN v_UpdateComplianceStatus ucs ON ucs.ResourceID = h.ResourceID`)
	coll := one(`SELECT CollectionID FROM v_Collection WHERE MemberCount > 0 AND CollectionID LIKE 'LAB%' ORDER BY MemberCount DESC LIMIT 1`)
	params := map[string]any{
		"key": coll, "collection": "", "article": article, "bulletin": "", "limit": "SMS00001", "group": group,
		"name": host, "all": int64(1), "state": int64(0), "scope": "", "selector": "all", "attention": "",
		"variant": "behind", "late_before": time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), "id": group, "title": "",
	}
	perQuery := map[string]map[string]any{
		"collection_members":        {"collection": coll},
		"collection_update_lookup":  {"bulletin": bulletin},
		"night_enforcement_state":   {"state": int64(0)},
		"night_needs_attention":     {"collection": coll},
		"collection_missing_update": {"bulletin": bulletin},
		"compliance":                {queries.ExcludeParam(1): "LAB00020"},
	}
	for i := 1; i <= queries.MaxExcluded; i++ {
		params[queries.ExcludeParam(i)] = ""
	}
	withRows := 0
	for _, c := range queries.Contracts() {
		p := site.Params{}
		for _, x := range c.Params {
			v, ok := perQuery[c.Query][x.Name]
			if !ok {
				v = params[x.Name]
			}
			p[x.Name] = v
		}
		n := checkQuery(t, db, c, p)
		if n > 0 {
			withRows++
		}
	}
	// The value checks need rows: most queries must have returned some.
	if min := len(queries.Contracts()) * 2 / 3; withRows < min {
		t.Errorf("only %d queries returned rows, want at least %d: the kinds went unchecked", withRows, min)
	}
}

// checkQuery runs one query and checks its columns and values; it returns the row count.
func checkQuery(t *testing.T, db *site.DB, c queries.Contract, p site.Params) int {
	t.Helper()
	rows, err := db.Query(context.Background(), c.Query, p)
	if err != nil {
		t.Errorf("%s: %v", c.Query, err)
		return 0
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, col := range c.Columns {
		want = append(want, col.Name)
	}
	if !slices.Equal(cols, want) {
		t.Errorf("%s returns %v, the contract says %v", c.Query, cols, want)
		return 0
	}
	n := 0
	for rows.Next() {
		n++
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", c.Query, err)
		}
		for i, v := range vals {
			if v == nil {
				continue
			}
			if msg := kindMismatch(c.Columns[i].Kind, v); msg != "" {
				t.Errorf("%s.%s: %s", c.Query, cols[i], msg)
				return n
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Errorf("%s: %v", c.Query, err)
	}
	return n
}

func kindMismatch(k queries.Kind, v any) string {
	switch k {
	case queries.Int:
		if _, ok := v.(int64); !ok {
			return "int column holds " + typeName(v)
		}
	case queries.Flag:
		if x, ok := v.(int64); !ok || (x != 0 && x != 1) {
			return "flag column holds " + typeName(v)
		}
	case queries.String:
		if _, ok := v.(string); !ok {
			return "string column holds " + typeName(v)
		}
	case queries.Time:
		s, ok := v.(string)
		if !ok {
			return "time column holds " + typeName(v)
		}
		var nt site.NullTime
		if err := nt.Scan(s); err != nil || !nt.Valid {
			return "time column holds " + s
		}
	default:
		return "unknown kind " + string(k)
	}
	return ""
}

func typeName(v any) string {
	switch x := v.(type) {
	case int64:
		return "an integer"
	case string:
		return "text " + x
	case float64:
		return "a float"
	case []byte:
		return "bytes"
	}
	return "something else"
}
