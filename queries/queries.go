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
	"strconv"
	"strings"
)

// MaxExcluded is how many excluded collections the compliance query takes: parameters
// @exclude1 to @exclude10, an empty string for an unused one. One query text for SQL
// Server and SQLite cannot take a list of any length as parameters, so the number is
// fixed; the night's plan and profile together may exclude at most this many collections.
const MaxExcluded = 10

// ExcludeParam is the name of the compliance query's i-th (from 1) excluded-collection
// parameter.
func ExcludeParam(i int) string { return "exclude" + strconv.Itoa(i) }

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

// ReadBy maps every query to the package (its path in the module) whose row scanner reads
// it. Each of those packages has a test that runs its queries against the lab, with bit
// columns read back as bool as on SQL Server, through its own scanners, and checks with
// site.DB.Ran that it ran every query listed here for it.
func ReadBy() map[string]string {
	const (
		site       = "pkg/site"
		report     = "pkg/report"
		collection = "pkg/sitecoll"
		notify     = "pkg/notify"
		runner     = "pkg/runner"
		wol        = "pkg/wol"
		doctor     = "pkg/doctor"
	)
	return map[string]string{
		"check_site":                site,
		"collection_lookup":         site,
		"compliance":                report,
		"host_updates":              report,
		"hosts_missing":             report,
		"scan_status":               report,
		"sug_lookup":                site,
		"collection_members":        collection,
		"collection_missing_update": collection,
		"collection_rules_direct":   collection,
		"collection_rules_query":    collection,
		"collection_state":          collection,
		"collection_sug_updates":    collection,
		"collection_update_lookup":  collection,
		"night_enforcement_state":   collection,
		"night_logged_on":           collection,
		"night_needs_attention":     collection,
		"night_nobody_logged_on":    collection,
		"scanbehind_members":        collection,
		"notify_missing":            notify,
		"notify_scan_behind":        notify,
		"followup_not_seen":         runner,
		"night_deployments":         runner,
		"night_host_state":          runner,
		"host_chassis":              runner,
		"host_virtual":              runner,
		"night_targets":             runner,
		"wol_online":                wol,
		"wol_targets":               wol,
		"doctor_group_deployments":  doctor,
		"doctor_min_source_version": doctor,
		"doctor_fast_channel":       doctor,
		"doctor_online_sample":      doctor,
		"doctor_sup_sync":           doctor,
		"doctor_scan_versions":      doctor,
		"doctor_adapter_lists":      doctor,
		"doctor_not_required":       doctor,
	}
}

// ReadByPackage lists, sorted, the queries ReadBy assigns to pkg.
func ReadByPackage(pkg string) []string {
	var out []string
	for q, p := range ReadBy() {
		if p == pkg {
			out = append(out, q)
		}
	}
	sort.Strings(out)
	return out
}
