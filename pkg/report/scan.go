package report

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"time"

	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/site"
)

// Scan buckets, first match wins (queries/scan_status.sql).
const (
	BucketNever   = "never"   // no scan against the publishing update source
	BucketFailed  = "failed"  // last scan failed or ended with an error
	BucketCurrent = "current" // scanned the current catalog
	BucketBehind1 = "behind1" // exactly one catalog version behind ("current - 1"; assumes versions step by one: unconfirmed, doctor catalog-steps)
	BucketBehind  = "behind"  // more than one version behind
)

// bucketOrder is the order buckets are shown in.
func bucketOrder() []string {
	return []string{BucketCurrent, BucketBehind1, BucketBehind, BucketNever, BucketFailed}
}

func bucketLabel(b string) string {
	switch b {
	case BucketNever:
		return "never scanned"
	case BucketFailed:
		return "scan failed"
	case BucketCurrent:
		return "current catalog"
	case BucketBehind1:
		return "one catalog version behind"
	case BucketBehind:
		return "more than one version behind"
	}
	return b
}

// ScanBucket is one line of the scan report.
type ScanBucket struct {
	Bucket  string  `json:"bucket"`
	Label   string  `json:"label"`
	Clients int64   `json:"clients"`
	Percent float64 `json:"percent"`
	Late    int64   `json:"late"` // of these, last scan older than the late threshold
}

// ScanError is a count of failed scans by error code.
type ScanError struct {
	Code    string `json:"code"`
	Clients int64  `json:"clients"`
}

// Scan is the scan report.
type Scan struct {
	Collection     *site.CollectionRef `json:"collection,omitempty"`
	CatalogVersion int64               `json:"catalog_version"`
	LateAfterDays  int                 `json:"late_after_days"`
	Clients        int64               `json:"clients_in_scope"`
	Late           int64               `json:"late"`
	Buckets        []ScanBucket        `json:"buckets"`
	Errors         []ScanError         `json:"errors"`
}

// ScanReport counts client machines by scan bucket; a scan older than lateDays before now
// is also counted as late.
func ScanReport(ctx context.Context, db *site.DB, coll *site.CollectionRef, now time.Time, lateDays int) (*Scan, error) {
	p := site.Params{"collection": "", "late_before": now.AddDate(0, 0, -lateDays)}
	if coll != nil {
		p["collection"] = coll.ID
	}
	rep := &Scan{Collection: coll, LateAfterDays: lateDays, Errors: []ScanError{}}
	counts := map[string]*ScanBucket{}
	for _, b := range bucketOrder() {
		counts[b] = &ScanBucket{Bucket: b, Label: bucketLabel(b)}
	}
	errs := map[string]int64{}
	err := db.Each(ctx, "scan_status", p, func(r *sql.Rows) error {
		var bucket string
		var code, clients, late int64
		var version sql.NullInt64
		if err := r.Scan(&bucket, &code, &clients, &late, &version); err != nil {
			return fmt.Errorf("read scan row: %w", err)
		}
		b, ok := counts[bucket]
		if !ok {
			return fmt.Errorf("scan query returned unknown bucket %q", bucket)
		}
		b.Clients += clients
		b.Late += late
		rep.Clients += clients
		rep.Late += late
		rep.CatalogVersion = version.Int64
		if bucket == BucketFailed {
			label := fleet.HResult(code)
			if label == "" {
				label = "(no code: scan did not complete)"
			}
			errs[label] += clients
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, b := range bucketOrder() {
		c := counts[b]
		c.Percent = percent(c.Clients, rep.Clients)
		rep.Buckets = append(rep.Buckets, *c)
	}
	for code, c := range errs {
		rep.Errors = append(rep.Errors, ScanError{Code: code, Clients: c})
	}
	sort.Slice(rep.Errors, func(i, j int) bool {
		if rep.Errors[i].Clients != rep.Errors[j].Clients {
			return rep.Errors[i].Clients > rep.Errors[j].Clients
		}
		return rep.Errors[i].Code < rep.Errors[j].Code
	})
	return rep, nil
}

// Grids renders the buckets and the scan errors.
func (s *Scan) Grids() []output.Grid {
	scope := "all client machines"
	if s.Collection != nil {
		scope = s.Collection.Name + " (" + s.Collection.ID + ")"
	}
	g := output.Grid{
		Title: fmt.Sprintf("Scan state of %s against catalog version %d: %d client machines in scope",
			scope, s.CatalogVersion, s.Clients),
		Header:  []string{"Bucket", "Clients", "Share", fmt.Sprintf("Scan older than %d days", s.LateAfterDays)},
		Numeric: []bool{false, true, true, true},
		Footer:  []string{"Total", n(s.Clients), pct(percent(s.Clients, s.Clients), s.Clients), n(s.Late)},
	}
	for _, b := range s.Buckets {
		g.Rows = append(g.Rows, []string{b.Label, n(b.Clients), pct(b.Percent, s.Clients), n(b.Late)})
	}
	grids := []output.Grid{g}
	if len(s.Errors) > 0 {
		e := output.Grid{Title: "Failed scans by error code", Header: []string{"Error", "Clients"}, Numeric: []bool{false, true}}
		for _, x := range s.Errors {
			e.Rows = append(e.Rows, []string{x.Code, n(x.Clients)})
		}
		grids = append(grids, e)
	}
	return grids
}
