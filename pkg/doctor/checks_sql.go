package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/site"
	"github.com/patchnight/patchnight/queries"
)

// readmeMinSource is the README section that says what to do without MinSourceVersion.
const readmeMinSource = `README "First night on a real site", MinSourceVersion`

// supSyncMaxAge is how old the last successful SUP sync may be before doctor warns: a
// site syncs at least daily by default, so two days means syncs are failing.
const supSyncMaxAge = 48 * time.Hour

// checkSQL: the login works (the database is open), the engine's version and the database.
func checkSQL(ctx context.Context, o Options) []Result {
	in, err := o.Site.Info(ctx)
	if err != nil {
		return []Result{{Check: "sql", Status: Fail, Message: "cannot read the server version: " + oneLine(err.Error()),
			Fix: "check that the account may run SELECT on the site database (db_datareader or smsschm_users)"}}
	}
	if in.Engine == site.SQLite {
		return []Result{{Check: "sql", Status: OK, Message: fmt.Sprintf("lab database %s (SQLite %s)", in.Database, in.Version)}}
	}
	r := Result{Check: "sql", Status: OK, Message: fmt.Sprintf("SQL Server %s, database %s, login %s", in.Version, in.Database, in.Login)}
	if o.SiteCode != "" && !strings.EqualFold(in.Database, "CM_"+o.SiteCode) {
		r.Status = Warn
		r.Fix = "point sql at the site database CM_" + strings.ToUpper(o.SiteCode) + " (?database=CM_" + strings.ToUpper(o.SiteCode) + ")"
		r.Message += ", not CM_" + strings.ToUpper(o.SiteCode)
	}
	return []Result{r}
}

// schemaFix says what to do about a query that failed on the site's schema or rights.
func schemaFix(se *site.SchemaError, query string) (msg, fix string) {
	switch se.Problem {
	case site.Denied:
		return "SELECT on " + se.Name + " is denied (SQL Server error 229)",
			"grant SELECT on " + se.Name + " to the account or to smsschm_users: GRANT SELECT ON " + se.Name + " TO smsschm_users"
	case site.MissingObject:
		return "this site's schema lacks " + se.Name,
			"check that sql names the CM_<SITECODE> database; if it does, this ConfigMgr version has no " + se.Name + " (needed by queries/" + query + ".sql): report it"
	default:
		if strings.EqualFold(se.Name, "MinSourceVersion") {
			return "this site's schema lacks the column MinSourceVersion", "see " + readmeMinSource
		}
		return "this site's schema lacks the column " + se.Name,
			"this ConfigMgr version has no column " + se.Name + " (needed by queries/" + query + ".sql): report it"
	}
}

// machineKindFix says what to do when the site lacks a column of the follow-up report's
// machine kind (issue 17): v_R_System.Is_Virtual_Machine0 and
// v_GS_SYSTEM_ENCLOSURE.ChassisTypes0 are the community's names, unconfirmed
// (docs/reference-additions.md). Nothing else needs them, so their absence is a warning:
// the report still runs and shows the kind "unknown" with a note.
func machineKindFix(query string) (string, bool) {
	switch query {
	case "host_virtual":
		return "the follow-up report cannot tell virtual machines (SMS_R_System.IsVirtualMachine) and shows them by chassis or as kind unknown; " +
			"if this site has the flag under another column name, report it with this line", true
	case "host_chassis":
		return "the follow-up report cannot tell laptops from desktops and shows them as kind unknown: check that hardware inventory collects " +
			"Win32_SystemEnclosure (ChassisTypes) in the client settings; if the site names the view or column otherwise, report it with this line", true
	}
	return "", false
}

// checkQueries describes every query of package queries without running it and holds the
// columns against the query's contract.
func checkQueries(ctx context.Context, o Options) []Result {
	var out []Result
	contracts := queries.Contracts()
	have := map[string]bool{}
	good := 0
	for _, c := range contracts {
		have[c.Query] = true
		cols, err := o.Site.Describe(ctx, c)
		if err != nil {
			if ctx.Err() != nil {
				return out
			}
			r := Result{Check: "query", Subject: c.Query, Status: Fail, Message: oneLine(err.Error()),
				Fix: "run the query in SQL Server Management Studio as the same account to see why"}
			if se := site.ClassifySchemaError(err); se != nil {
				r.Message, r.Fix = schemaFix(se, c.Query)
				if fix, ok := machineKindFix(c.Query); ok {
					r.Status, r.Unconfirmed, r.Fix = Warn, true, fix
				}
			}
			out = append(out, r)
			continue
		}
		if r, ok := holdContract(c, cols); !ok {
			out = append(out, r)
			continue
		}
		good++
	}
	for _, n := range queries.Names() {
		if !have[n] {
			out = append(out, Result{Check: "query", Subject: n, Status: Fail, Message: "the query has no contract",
				Fix: "add it to queries/contract.go (a bug in patchnight: report it)"})
		}
	}
	status := OK
	if good < len(contracts) {
		status = Warn // the failing ones have their own lines
	}
	out = append(out, Result{Check: "query", Status: status,
		Message: fmt.Sprintf("%d of %d queries described without running: columns and types as the Go code reads them", good, len(contracts))})
	if status == Warn {
		out[len(out)-1].Fix = "see the failed queries above"
	}
	return out
}

// holdContract compares described columns with the contract: names and order, and that the
// Go code can read each column's type.
func holdContract(c queries.Contract, cols []site.DescribedColumn) (Result, bool) {
	fail := func(msg, fix string) (Result, bool) {
		return Result{Check: "query", Subject: c.Query, Status: Fail, Message: msg, Fix: fix}, false
	}
	names := func(n int, f func(int) string) string {
		s := make([]string, n)
		for i := range s {
			s[i] = f(i)
		}
		return strings.Join(s, ", ")
	}
	got := names(len(cols), func(i int) string { return cols[i].Name })
	want := names(len(c.Columns), func(i int) string { return c.Columns[i].Name })
	if !strings.EqualFold(got, want) {
		return fail("returns ("+got+") where patchnight reads ("+want+")",
			"the site's views differ from what queries/"+c.Query+".sql expects: report it with this line")
	}
	for i, col := range cols {
		k := c.Columns[i].Kind
		if col.FitsKind(k) {
			continue
		}
		fix := "queries/" + c.Query + ".sql must CAST " + col.Name + " to what the Go code reads, or the Go code read " + col.Type + ": report it"
		if strings.HasPrefix(strings.ToLower(col.Type), "bit") && k == queries.Int {
			fix = "a bit column read as an integer fails (go-mssqldb returns bool): CAST(" + col.Name + " AS int) in queries/" + c.Query + ".sql, or read it as a flag: report it"
		}
		return fail(fmt.Sprintf("column %s is %s, which the Go code cannot read as %s", col.Name, orNone(col.Type), k), fix)
	}
	return Result{}, true
}

func orNone(s string) string {
	if s == "" {
		return "(untyped)"
	}
	return s
}

// supRow is one row of doctor_sup_sync.
type supRow struct {
	server, source string
	version        sql.NullInt64
	lastSync       site.NullTime
	errCode        sql.NullInt64
}

// checkSUPSync: vSMS_SUPSyncStatus is readable, the top SUP has a catalog version, and its
// last successful sync is recent.
func checkSUPSync(ctx context.Context, o Options) []Result {
	rows, err := readSUPRows(ctx, o.Site)
	if err != nil {
		return []Result{schemaResult("sup-sync", "vSMS_SUPSyncStatus", "doctor_sup_sync", err)}
	}
	top, n := topSUP(rows)
	if top == nil {
		return []Result{{Check: "sup-sync", Subject: "vSMS_SUPSyncStatus", Status: Fail, Unconfirmed: true,
			Message: fmt.Sprintf("%d SUP rows, none syncs from Microsoft Update: patchnight cannot tell the current catalog version", len(rows)),
			Fix:     "check the top software update point's sync source (Software Update Point Component properties, Sync Settings)"}}
	}
	if !top.version.Valid {
		return []Result{{Check: "sup-sync", Subject: top.server, Status: Fail,
			Message: "the top SUP has no SyncCatalogVersion: it has not synchronized",
			Fix:     "synchronize software updates (Software Library > Software Updates > Synchronize) and check wsyncmgr.log"}}
	}
	msg := fmt.Sprintf("catalog version %d from %s", top.version.Int64, top.server)
	if n > 1 {
		msg += fmt.Sprintf(" (the highest of %d SUP rows syncing from Microsoft Update)", n)
	}
	if !top.lastSync.Valid {
		return []Result{{Check: "sup-sync", Subject: top.server, Status: Warn, Message: msg + "; no successful sync recorded",
			Fix: "check the SUP's sync schedule and wsyncmgr.log"}}
	}
	age := o.Now().Sub(top.lastSync.Time)
	if age > supSyncMaxAge {
		return []Result{{Check: "sup-sync", Subject: top.server, Status: Warn,
			Message: msg + "; last successful sync " + durationText(age) + " ago",
			Fix:     "the SUP has not synchronized for more than 2 days: check its sync schedule and wsyncmgr.log"}}
	}
	return []Result{{Check: "sup-sync", Subject: top.server, Status: OK, Unconfirmed: n > 1,
		Message: msg + "; last successful sync " + top.lastSync.Time.UTC().Format("2006-01-02 15:04") + " UTC"}}
}

// readSUPRows reads every row of vSMS_SUPSyncStatus (doctor_sup_sync).
func readSUPRows(ctx context.Context, s Site) ([]supRow, error) {
	var rows []supRow
	err := s.Each(ctx, "doctor_sup_sync", nil, func(r *sql.Rows) error {
		var x supRow
		if err := r.Scan(&x.server, &x.source, &x.version, &x.lastSync, &x.errCode); err != nil {
			return fmt.Errorf("read vSMS_SUPSyncStatus: %w", err)
		}
		rows = append(rows, x)
		return nil
	})
	return rows, err
}

// topSUP picks the reference row: the top SUP, which syncs from Microsoft Update
// (reference 3), the highest catalog version of those when there are several (as the
// queries' MAX(SyncCatalogVersion)); n is how many rows sync from Microsoft Update. In a
// hierarchy with several SUPs, which row is right is unconfirmed.
func topSUP(rows []supRow) (top *supRow, n int) {
	for i := range rows {
		if strings.EqualFold(strings.TrimSpace(rows[i].source), "Microsoft Update") {
			n++
			if top == nil || rows[i].version.Int64 > top.version.Int64 {
				top = &rows[i]
			}
		}
	}
	return top, n
}

func durationText(d time.Duration) string {
	if d >= 48*time.Hour {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return d.Round(time.Minute).String()
}

// checkMinSourceVersion: v_UpdateCIs exposes MinSourceVersion (unconfirmed in reference 1.2).
func checkMinSourceVersion(ctx context.Context, o Options) []Result {
	err := o.Site.Each(ctx, "doctor_min_source_version", nil, func(*sql.Rows) error { return nil })
	if err == nil {
		return []Result{{Check: "min-source-version", Subject: "v_UpdateCIs", Status: OK,
			Message: "v_UpdateCIs exposes MinSourceVersion and UpdateSource_ID"}}
	}
	r := Result{Check: "min-source-version", Subject: "v_UpdateCIs", Status: Fail, Message: oneLine(err.Error()),
		Fix: "see " + readmeMinSource}
	if se := site.ClassifySchemaError(err); se != nil {
		r.Message, r.Fix = schemaFix(se, "doctor_min_source_version")
		if se.Problem == site.MissingColumn {
			r.Message = "v_UpdateCIs lacks MinSourceVersion or UpdateSource_ID: patchnight cannot tell not-required from unknown"
		}
	}
	return []Result{r}
}

// checkUpdateGroup: the night's software update group exists and a deployment links to it.
func checkUpdateGroup(ctx context.Context, o Options) []Result {
	if o.Group == "" {
		return []Result{{Check: "update-group", Status: Warn,
			Message: "no software update group configured: the night takes the most recently deployed group",
			Fix:     "set group: in the plan (--plan FILE) to the group the night installs"}}
	}
	found, err := o.Site.LookupGroup(ctx, o.Group)
	if err != nil {
		return []Result{schemaResult("update-group", o.Group, "sug_lookup", err)}
	}
	switch len(found) {
	case 0:
		return []Result{{Check: "update-group", Subject: o.Group, Status: Fail, Message: "no software update group " + strconv.Quote(o.Group),
			Fix: "set group to a software update group's name or CI_ID (v_AuthListInfo; the console's Software Update Groups)"}}
	case 1:
	default:
		return []Result{{Check: "update-group", Subject: o.Group, Status: Fail,
			Message: fmt.Sprintf("%d software update groups answer to %q", len(found), o.Group),
			Fix:     "set group to the CI_ID of the one the night installs"}}
	}
	g := found[0]
	subject := fmt.Sprintf("%s (CI_ID %d)", g.Title, g.CIID)
	var deps []string
	err = o.Site.Each(ctx, "doctor_group_deployments", site.Params{"group": g.CIID}, func(r *sql.Rows) error {
		var aid int64
		var name, coll string
		if err := r.Scan(&aid, &name, &coll); err != nil {
			return fmt.Errorf("read v_CIAssignmentToGroup: %w", err)
		}
		deps = append(deps, coll+" ("+name+")")
		return nil
	})
	if err != nil {
		return []Result{schemaResult("update-group", subject, "doctor_group_deployments", err)}
	}
	if len(deps) == 0 {
		return []Result{{Check: "update-group", Subject: subject, Status: Fail,
			Message: fmt.Sprintf("the group (%d updates) is not deployed: no deployment links to it (v_CIAssignmentToGroup)", g.Updates),
			Fix:     "deploy the group to the night's collection (Available is enough: installs go through the client SDK, which sees deployed updates only)"}}
	}
	slices.Sort(deps)
	return []Result{{Check: "update-group", Subject: subject, Status: OK,
		Message: fmt.Sprintf("%d updates, deployed to %s", g.Updates, strings.Join(deps, ", "))}}
}

// schemaResult is a failed result for a query error, with the schema fix when it is one.
func schemaResult(check, subject, query string, err error) Result {
	r := Result{Check: check, Subject: subject, Status: Fail, Message: oneLine(err.Error()),
		Fix: "check the account's read rights on the site database"}
	if se := site.ClassifySchemaError(err); se != nil {
		r.Message, r.Fix = schemaFix(se, query)
	}
	return r
}
