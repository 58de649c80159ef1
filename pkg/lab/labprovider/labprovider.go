// Package labprovider is the lab double of the SMS Provider's collection operations.
//
// The lab's WS-Man endpoint (package labsite) answers the provider-collections and
// provider-collection-status scripts by calling HandleOp (or Apply and Status directly) on
// the lab database.
// They do what scripts/provider-collections.ps1 does on a real provider, against the lab_*
// collection tables: the same checks (owner tag at the end of the comment, every existing
// collection checked before anything is written, query rules validated), the same writes,
// and a synchronous evaluation of membership: each WQL query rule is read back into its
// shape with wql.Parse and evaluated by the family's SQL twin (queries/) against the lab's
// views, direct rules are limited by the limiting collection, and the result replaces
// lab_collection_member. So `collections members` after `apply` shows the machines the
// rules select. It is a lab package: tests and the demo use it, product code never does.
package labprovider

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/wql"
	"github.com/patchnight/patchnight/queries"
	"github.com/patchnight/patchnight/scripts"
)

// Error is a refusal of the lab double; the lab's endpoint reports it as the script
// would: {"error": {"code": Code, "message": Message}} and exit code 1.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Reason is "script:<code>", as remote.Error reports a script's refusal.
func (e *Error) Reason() string { return "script:" + e.Code }

func labErr(code, format string, args ...any) error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// labTwin maps a rule shape to the SQL twin that evaluates it (the same queries the
// families of package collections name).
var labTwin = map[wql.Kind]string{
	wql.MissingUpdate: "collection_missing_update",
	wql.Enforcement:   "night_enforcement_state",
}

// HandleOp answers one provider operation for the lab: op is the script name
// (provider-collections or provider-collection-status), params its JSON parameter object.
// It returns the result object to print as JSON. Refusals are *Error.
func HandleOp(ctx context.Context, db *sql.DB, op string, params []byte, now time.Time) (any, error) {
	// The scripts get their parameters from the bootstrap's ConvertFrom-Json, which on
	// Windows PowerShell 5.1 refuses JSON over 2,097,152 characters (configmgr.md
	// section 12); the bootstrap reports the exception as code "exception".
	if scripts.ParamsChars(params) > scripts.MaxParamsChars {
		return nil, labErr("exception", "%s", scripts.ParamsTooLongMessage)
	}
	switch op {
	case provider.ScriptCollections:
		var req provider.CollectionsRequest
		if err := json.Unmarshal(params, &req); err != nil {
			return nil, labErr("bad-parameter", "parameters: %v", err)
		}
		return Apply(ctx, db, req, now)
	case provider.ScriptCollectionStatus:
		var req provider.CollectionStatusRequest
		if err := json.Unmarshal(params, &req); err != nil {
			return nil, labErr("bad-parameter", "parameters: %v", err)
		}
		return Status(ctx, db, req)
	}
	return nil, labErr("unknown-op", "the lab does not answer %q here", op)
}

// Apply applies a provider-collections request to the lab database at time now (UTC)
// in one transaction: nothing is written when any check fails.
func Apply(ctx context.Context, db *sql.DB, req provider.CollectionsRequest, now time.Time) (*provider.CollectionsResponse, error) {
	if err := req.Validate(); err != nil {
		return nil, labErr("bad-parameter", "%v", err)
	}
	if req.ContainerFilter != "ObjectType = 5000" {
		return nil, labErr("bad-parameter", "ContainerFilter must select device collection folders (ObjectType = 5000)")
	}
	ts := now.UTC().Format(labTime)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("lab: begin: %w", err)
	}
	defer tx.Rollback()

	// Phase 1: check everything.
	for _, c := range req.Collections {
		if c.CollectionID != "" {
			if err := labOwned(ctx, tx, c.CollectionID, c.OwnerTag, false); err != nil {
				return nil, err
			}
		}
		for _, q := range c.AddQueryRules {
			if _, err := wql.Parse(q.QueryExpression); err != nil {
				return nil, labErr("bad-query", "the provider refuses query rule %s of %s; nothing was changed", q.RuleName, c.Key)
			}
		}
	}
	for _, d := range req.Deletes {
		if err := labOwned(ctx, tx, d.CollectionID, d.OwnerTag, true); err != nil {
			return nil, err
		}
	}

	// Phase 2: write.
	out := &provider.CollectionsResponse{Collections: []provider.CollectionResult{}, Deleted: []string{}}
	for _, c := range req.Collections {
		res := provider.CollectionResult{Key: c.Key, CollectionID: c.CollectionID, QueryIDs: []uint32{}}
		id := c.CollectionID
		if id == "" {
			if id, err = labCreate(ctx, tx, req.SiteCode, c, ts); err != nil {
				return nil, err
			}
			res.CollectionID, res.Created = id, true
		} else if c.Props != nil {
			_, err := tx.ExecContext(ctx, `UPDATE lab_collection SET Name = ?, Comment = ?, LimitToCollectionID = ?,
				RefreshType = ?, LastChangeTime = ? WHERE CollectionID = ?`,
				c.Props.Name, c.Props.Comment, c.Props.LimitToCollectionID, c.Props.RefreshType, ts, id)
			if err != nil {
				return nil, labWriteErr(id, err)
			}
			res.Updated = true
		}
		for _, q := range c.RemoveQueryIDs {
			r, err := tx.ExecContext(ctx, `DELETE FROM lab_collection_rule_query WHERE CollectionID = ? AND QueryID = ?`, id, q)
			if err != nil {
				return nil, labWriteErr(id, err)
			}
			n, _ := r.RowsAffected()
			res.Removed += int(n)
		}
		for _, rid := range c.RemoveDirect {
			r, err := tx.ExecContext(ctx, `DELETE FROM lab_collection_rule_direct WHERE CollectionID = ? AND ResourceID = ?`, id, rid)
			if err != nil {
				return nil, labWriteErr(id, err)
			}
			n, _ := r.RowsAffected()
			res.Removed += int(n)
		}
		for _, q := range c.AddQueryRules {
			var next int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(QueryID), 0) + 1 FROM lab_collection_rule_query WHERE CollectionID = ?`, id).Scan(&next); err != nil {
				return nil, labWriteErr(id, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO lab_collection_rule_query (CollectionID, QueryID, RuleName, QueryExpression) VALUES (?, ?, ?, ?)`,
				id, next, q.RuleName, q.QueryExpression); err != nil {
				return nil, labWriteErr(id, err)
			}
			res.QueryIDs = append(res.QueryIDs, uint32(next))
			res.Added++
		}
		for _, d := range c.AddDirect {
			if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO lab_collection_rule_direct (CollectionID, ResourceID, RuleName) VALUES (?, ?, ?)`,
				id, d.ResourceID, d.RuleName); err != nil {
				return nil, labWriteErr(id, err)
			}
			res.Added++
		}
		if c.Folder != "" {
			r, err := tx.ExecContext(ctx, `UPDATE lab_collection SET ObjectPath = ? WHERE CollectionID = ? AND ObjectPath <> ?`, c.Folder, id, c.Folder)
			if err != nil {
				return nil, labWriteErr(id, err)
			}
			n, _ := r.RowsAffected()
			res.Moved = n > 0
		}
		if c.Refresh {
			if err := labEvaluate(ctx, tx, id, ts); err != nil {
				return nil, err
			}
			res.Refreshed = true
		}
		out.Collections = append(out.Collections, res)
	}
	for _, d := range req.Deletes {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM lab_collection WHERE CollectionID = ?`, d.CollectionID).Scan(&n); err != nil {
			return nil, labWriteErr(d.CollectionID, err)
		}
		if n == 0 {
			continue
		}
		for _, t := range []string{"lab_collection_member", "lab_collection_rule_query", "lab_collection_rule_direct", "lab_collection"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+t+` WHERE CollectionID = ?`, d.CollectionID); err != nil {
				return nil, labWriteErr(d.CollectionID, err)
			}
		}
		out.Deleted = append(out.Deleted, d.CollectionID)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("lab: commit: %w", err)
	}
	return out, nil
}

// labTime is how the lab stores times (site.SQLiteTimeLayout).
const labTime = "2006-01-02 15:04:05"

func labWriteErr(id string, err error) error {
	return labErr("cim", "collection %s: %v", id, err)
}

// labOwned checks that a collection exists (unless missingOK) and ends its comment with tag.
func labOwned(ctx context.Context, tx *sql.Tx, id, tag string, missingOK bool) error {
	var comment string
	var builtIn int
	err := tx.QueryRowContext(ctx, `SELECT Comment, IsBuiltIn FROM lab_collection WHERE CollectionID = ?`, id).Scan(&comment, &builtIn)
	if errors.Is(err, sql.ErrNoRows) {
		if missingOK {
			return nil
		}
		return labErr("not-found", "collection %s does not exist (any more); run plan again", id)
	}
	if err != nil {
		return labWriteErr(id, err)
	}
	if builtIn != 0 || tag == "" || !strings.HasSuffix(strings.TrimRight(comment, " \t"), tag) {
		return labErr("not-owned", "collection %s is not managed by patchnight: its comment does not end with %s; nothing was changed", id, tag)
	}
	return nil
}

// labCreate inserts a new collection with the next CollectionID of the site.
func labCreate(ctx context.Context, tx *sql.Tx, site string, c provider.CollectionChange, ts string) (string, error) {
	p := c.Props
	if !strings.HasSuffix(strings.TrimRight(p.Comment, " \t"), c.OwnerTag) {
		return "", labErr("bad-parameter", "the comment of %s does not end with its owner tag", p.Name)
	}
	var taken int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM lab_collection WHERE Name = ?`, p.Name).Scan(&taken); err != nil {
		return "", labWriteErr(p.Name, err)
	}
	if taken > 0 {
		return "", labErr("cim", "a collection named %q already exists", p.Name)
	}
	rows, err := tx.QueryContext(ctx, `SELECT CollectionID FROM lab_collection`)
	if err != nil {
		return "", labWriteErr(p.Name, err)
	}
	next := int64(0x100) // the first ID the lab leaves to collections made by tools
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return "", labWriteErr(p.Name, err)
		}
		if len(id) == 8 && strings.EqualFold(id[:3], site) {
			if n, err := strconv.ParseInt(id[3:], 16, 64); err == nil && n >= next {
				next = n + 1
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", labWriteErr(p.Name, err)
	}
	if next > 0xFFFFF {
		return "", labErr("cim", "no CollectionID left for site %s", site)
	}
	id := fmt.Sprintf("%s%05X", strings.ToUpper(site), next)
	_, err = tx.ExecContext(ctx, `INSERT INTO lab_collection (CollectionID, Name, Comment, LimitToCollectionID,
		CollectionType, RefreshType, Schedule, ObjectPath, IsBuiltIn, LastRefreshTime, LastChangeTime, CurrentStatus, MemberCount)
		VALUES (?, ?, ?, ?, 2, ?, ?, '/', 0, NULL, ?, 5, 0)`,
		id, p.Name, p.Comment, p.LimitToCollectionID, p.RefreshType, labSchedule(p), ts)
	if err != nil {
		return "", labWriteErr(p.Name, err)
	}
	return id, nil
}

// labSchedule describes the refresh schedule in the lab's Schedule column. A real site
// stores an encoded schedule token there; the lab keeps a readable form instead.
func labSchedule(p *provider.CollectionProps) string {
	switch {
	case p.RefreshType != 2 && p.RefreshType != 6:
		return ""
	case p.RefreshDays > 0:
		return "interval " + strconv.Itoa(p.RefreshDays) + "d"
	}
	return "interval " + strconv.Itoa(p.RefreshHours) + "h"
}

// labEvaluate recomputes a collection's members from its rules, as the site's collection
// evaluator would, and marks it ready and refreshed at ts.
func labEvaluate(ctx context.Context, tx *sql.Tx, id, ts string) error {
	var limit string
	if err := tx.QueryRowContext(ctx, `SELECT LimitToCollectionID FROM lab_collection WHERE CollectionID = ?`, id).Scan(&limit); err != nil {
		return labWriteErr(id, err)
	}
	limitSet, err := labMembers(ctx, tx, limit)
	if err != nil {
		return err
	}
	members := map[int64]bool{} // ResourceID -> direct

	// Query rules.
	var exprs []string
	rows, err := tx.QueryContext(ctx, `SELECT QueryExpression FROM lab_collection_rule_query WHERE CollectionID = ? ORDER BY QueryID`, id)
	if err != nil {
		return labWriteErr(id, err)
	}
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			rows.Close()
			return labWriteErr(id, err)
		}
		exprs = append(exprs, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return labWriteErr(id, err)
	}
	for _, q := range exprs {
		r, err := wql.Parse(q)
		if err != nil {
			return labErr("bad-query", "collection %s: the lab cannot evaluate query rule %q: %v", id, q, err)
		}
		got, err := labRunTwin(ctx, tx, labTwin[r.Kind], map[string]any{"limit": limit, "article": r.ArticleID,
			"bulletin": r.BulletinID, "state": int64(r.EnforcementState)})
		if err != nil {
			return labWriteErr(id, err)
		}
		filters := make([]map[int64]bool, 0, len(r.Include)+len(r.Exclude))
		for _, c := range append(slices.Clone(r.Include), r.Exclude...) {
			s, err := labMembers(ctx, tx, c)
			if err != nil {
				return err
			}
			filters = append(filters, s)
		}
	next:
		for _, rid := range got {
			for i := range r.Include {
				if !filters[i][rid] {
					continue next
				}
			}
			for i := range r.Exclude {
				if filters[len(r.Include)+i][rid] {
					continue next
				}
			}
			if _, ok := members[rid]; !ok {
				members[rid] = false // a query member; a direct rule below may make it direct
			}
		}
	}

	// Direct rules, limited by the limiting collection and to existing resources.
	rows, err = tx.QueryContext(ctx, `SELECT r.ResourceID FROM lab_collection_rule_direct r
		JOIN lab_host h ON h.ResourceID = r.ResourceID WHERE r.CollectionID = ?`, id)
	if err != nil {
		return labWriteErr(id, err)
	}
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			rows.Close()
			return labWriteErr(id, err)
		}
		if limitSet == nil || limitSet[rid] {
			members[rid] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return labWriteErr(id, err)
	}

	if _, err := tx.ExecContext(ctx, `DELETE FROM lab_collection_member WHERE CollectionID = ?`, id); err != nil {
		return labWriteErr(id, err)
	}
	ids := make([]int64, 0, len(members))
	for rid := range members {
		ids = append(ids, rid)
	}
	slices.Sort(ids)
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO lab_collection_member (CollectionID, ResourceID, IsDirect) VALUES (?, ?, ?)`)
	if err != nil {
		return labWriteErr(id, err)
	}
	defer stmt.Close()
	for _, rid := range ids {
		direct := 0
		if members[rid] {
			direct = 1
		}
		if _, err := stmt.ExecContext(ctx, id, rid, direct); err != nil {
			return labWriteErr(id, err)
		}
	}
	// An evaluation always ends after the previous one, even when the lab's simulated clock
	// has not moved in between (a real site's clock always moves), so that a waiting
	// Apply sees the refresh it asked for.
	_, err = tx.ExecContext(ctx, `UPDATE lab_collection SET MemberCount = ?, CurrentStatus = 1,
		LastRefreshTime = CASE WHEN LastRefreshTime IS NOT NULL AND LastRefreshTime >= ?
		                       THEN strftime('%Y-%m-%d %H:%M:%S', LastRefreshTime, '+1 second') ELSE ? END
		WHERE CollectionID = ?`, len(ids), ts, ts, id)
	if err != nil {
		return labWriteErr(id, err)
	}
	return nil
}

// labMembers is the member set of a collection; nil when id is "" (no limit).
func labMembers(ctx context.Context, tx *sql.Tx, id string) (map[int64]bool, error) {
	if id == "" {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT ResourceID FROM lab_collection_member WHERE CollectionID = ?`, id)
	if err != nil {
		return nil, labWriteErr(id, err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var rid int64
		if err := rows.Scan(&rid); err != nil {
			return nil, labWriteErr(id, err)
		}
		out[rid] = true
	}
	if err := rows.Err(); err != nil {
		return nil, labWriteErr(id, err)
	}
	return out, nil
}

var labParamRE = regexp.MustCompile(`@([A-Za-z_][A-Za-z0-9_]*)`)

// labRunTwin runs a SQL twin from queries/ inside the transaction and returns the
// ResourceIDs (first column). Only the @names the text uses are passed.
func labRunTwin(ctx context.Context, tx *sql.Tx, name string, params map[string]any) ([]int64, error) {
	text, err := queries.Get(name)
	if err != nil {
		return nil, err
	}
	var args []any
	seen := map[string]bool{}
	for line := range strings.SplitSeq(text, "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		for _, m := range labParamRE.FindAllStringSubmatch(line, -1) {
			if seen[m[1]] {
				continue
			}
			seen[m[1]] = true
			v, ok := params[m[1]]
			if !ok {
				return nil, fmt.Errorf("query %s needs @%s", name, m[1])
			}
			args = append(args, sql.Named(m[1], v))
		}
	}
	rows, err := tx.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", name, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var rid int64
		var name string
		if err := rows.Scan(&rid, &name); err != nil {
			return nil, err
		}
		out = append(out, rid)
	}
	return out, rows.Err()
}

// Refresh re-evaluates the members of every collection patchnight owns in the lab (its
// comment ends with an owner tag), as a site's scheduled evaluation would after the fleet
// changed (installs, restarts, scans). The lab calls it when its clock moves; it returns the
// collections it evaluated.
func Refresh(ctx context.Context, db *sql.DB, now time.Time) ([]string, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("lab: begin: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT CollectionID, Comment FROM lab_collection WHERE IsBuiltIn = 0 ORDER BY CollectionID`)
	if err != nil {
		return nil, fmt.Errorf("lab: read collections: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id, comment string
		if err := rows.Scan(&id, &comment); err != nil {
			rows.Close()
			return nil, fmt.Errorf("lab: read collections: %w", err)
		}
		if _, _, ok := collections.ParseOwnerTag(comment); ok {
			ids = append(ids, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lab: read collections: %w", err)
	}
	ts := now.UTC().Format(labTime)
	for _, id := range ids {
		if err := labEvaluate(ctx, tx, id, ts); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("lab: commit: %w", err)
	}
	return ids, nil
}

// Status answers provider-collection-status from the lab database.
func Status(ctx context.Context, db *sql.DB, req provider.CollectionStatusRequest) (*provider.CollectionStatusResponse, error) {
	if _, err := wql.SiteCode(req.SiteCode); err != nil {
		return nil, labErr("bad-parameter", "SiteCode must be three letters or digits")
	}
	out := &provider.CollectionStatusResponse{Collections: []provider.CollectionStatus{}}
	for _, id := range req.CollectionIDs {
		if _, err := wql.CollectionID(id); err != nil || id != strings.ToUpper(id) {
			return nil, labErr("bad-parameter", "%s is not a CollectionID", id)
		}
		s := provider.CollectionStatus{CollectionID: id}
		var last, change sql.NullString
		err := db.QueryRowContext(ctx, `SELECT Name, CurrentStatus, LastRefreshTime, LastChangeTime, MemberCount
			FROM lab_collection WHERE CollectionID = ?`, id).Scan(&s.Name, &s.CurrentStatus, &last, &change, &s.MemberCount)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, labErr("cim", "collection %s: %v", id, err)
		default:
			s.Found = true
			s.LastRefreshTime = labParseTime(last)
			s.LastChangeTime = labParseTime(change)
		}
		out.Collections = append(out.Collections, s)
	}
	return out, nil
}

func labParseTime(s sql.NullString) *time.Time {
	if !s.Valid || s.String == "" {
		return nil
	}
	t, err := time.Parse(labTime, s.String)
	if err != nil {
		return nil
	}
	return &t
}
