package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// catalogStepsFix says what rests on catalog versions rising by one.
const catalogStepsFix = "\"current minus one\" (the scan report's behind1 bucket and the scan-behind collections' one-behind variant) " +
	"assumes the catalog version rises by one; if it does not on this site, use the behind variant (any version behind) instead, " +
	"and report it with this line"

// versionCount is one row of doctor_scan_versions: how many clients last scanned a
// catalog version successfully.
type versionCount struct {
	version, clients int64
}

// checkCatalogSteps: whether this site's catalog versions rise by one, as "current minus
// one" assumes. How SyncCatalogVersion increments is unconfirmed (reference 3: that it
// rises per SUP sync is inferred). The evidence is the versions clients last scanned
// successfully: clients on the version right below the current one show that version was
// a catalog.
func checkCatalogSteps(ctx context.Context, o Options) []Result {
	const check, subject = "catalog-steps", "v_UpdateScanStatus.LastScanPackageVersion"
	var rows []versionCount
	err := o.Site.Each(ctx, "doctor_scan_versions", nil, func(r *sql.Rows) error {
		var x versionCount
		if err := r.Scan(&x.version, &x.clients); err != nil {
			return fmt.Errorf("read v_UpdateScanStatus: %w", err)
		}
		rows = append(rows, x)
		return nil
	})
	if err != nil {
		return []Result{schemaResult(check, subject, "doctor_scan_versions", err)}
	}
	// The current version as the sup-sync check reads it; when that cannot be read, the
	// sup-sync line says why and what to do.
	var current sql.NullInt64
	if sups, err := readSUPRows(ctx, o.Site); err == nil {
		if top, _ := topSUP(sups); top != nil {
			current = top.version
		}
	}
	r := judgeCatalogSteps(rows, current)
	r.Check, r.Subject = check, subject
	return []Result{r}
}

// judgeCatalogSteps weighs the scanned versions (highest first) against the current one.
func judgeCatalogSteps(rows []versionCount, current sql.NullInt64) Result {
	if len(rows) == 0 {
		return Result{Status: Warn, Unconfirmed: true,
			Message: "no client has a successful scan of the publishing update source: cannot tell how catalog versions step",
			Fix:     "run doctor again once clients have scanned (sup-sync and the scan report say more); " + catalogStepsFix}
	}
	if !current.Valid {
		return Result{Status: Warn, Unconfirmed: true,
			Message: "no current catalog version (vSMS_SUPSyncStatus unreadable, or no SUP row syncing from Microsoft Update with a version): cannot tell how catalog versions step",
			Fix:     "see the sup-sync line"}
	}
	cur := current.Int64
	var at, below int64 // clients on the current version (or later), below it
	next := int64(-1)   // the highest version below the current one
	var seen []string
	for _, x := range rows {
		if x.version >= cur {
			at += x.clients
		} else {
			below += x.clients
			if next < 0 {
				next = x.version
			}
		}
		if len(seen) < 4 {
			seen = append(seen, fmt.Sprintf("%d (%d)", x.version, x.clients))
		}
	}
	versions := fmt.Sprintf("%d clients on the current version, %d behind; version (clients): %s", at, below, strings.Join(seen, ", "))
	if len(rows) > len(seen) {
		versions += fmt.Sprintf(" and %d more", len(rows)-len(seen))
	}
	switch {
	case next < 0:
		return Result{Status: Warn, Unconfirmed: true,
			Message: fmt.Sprintf("all %d clients with a successful scan are on the current catalog version %d: cannot tell how versions step", at, cur),
			Fix:     "run doctor again after the next software update sync; " + catalogStepsFix}
	case next == cur-1:
		return Result{Status: OK, Unconfirmed: true,
			Message: fmt.Sprintf("clients on version %d, right below the current %d: versions step by one as \"current minus one\" assumes (%s)", next, cur, versions)}
	}
	return Result{Status: Warn, Unconfirmed: true,
		Message: fmt.Sprintf("no client on version %d; the nearest below the current %d is %d, %d versions behind (%s): catalog versions may rise by more than one, and \"current minus one\" then finds nobody",
			cur-1, cur, next, cur-next, versions),
		Fix: "a gap can also mean that no client scanned while that version was current: run doctor again a day after the next software update sync; " +
			catalogStepsFix}
}
