package site

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/exit"
)

// CollectionRef is a collection as queries/collection_lookup.sql finds it. Reports and
// listings show it as {"id", "name", "members"}.
type CollectionRef struct {
	ID      string `json:"id"` // CollectionID, as the site spells it
	Name    string `json:"name"`
	Members int64  `json:"members"` // MemberCount at the last evaluation
	Type    int64  `json:"-"`       // CollectionType: 1 user, 2 device
}

// scanCollectionRef reads one row of collection_lookup.
func scanCollectionRef(r *sql.Rows) (CollectionRef, error) {
	var c CollectionRef
	var members, typ sql.NullInt64
	if err := r.Scan(&c.ID, &c.Name, &members, &typ); err != nil {
		return c, fmt.Errorf("read collection: %w", err)
	}
	c.Members, c.Type = members.Int64, typ.Int64
	return c, nil
}

// LookupCollection lists the collections whose CollectionID or name is key. The site
// compares case-insensitively (its collation), so the query does not fold case.
func (d *DB) LookupCollection(ctx context.Context, key string) ([]CollectionRef, error) {
	return Collect(ctx, d, "collection_lookup", Params{"key": key}, scanCollectionRef)
}

// Collect runs the named query and returns its rows as scan reads them, in the query's
// order; on an error it returns the rows read so far with it.
func Collect[T any](ctx context.Context, d *DB, name string, p Params, scan func(*sql.Rows) (T, error)) ([]T, error) {
	var out []T
	err := d.Each(ctx, name, p, func(r *sql.Rows) error {
		v, err := scan(r)
		if err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

// ResolveCollection finds the one collection key names: its CollectionID, or else its
// name. A missing or ambiguous key is a usage error. Resolve a collection once, before a
// set-based query, and pass the ID: `CollectionID = @id OR CollectionID IN (... Name =
// @name)` defeats index seeks on SQL Server (reference 12).
func (d *DB) ResolveCollection(ctx context.Context, key string) (*CollectionRef, error) {
	if key == "" {
		return nil, exit.Usagef("give a CollectionID like ABC00012 or a collection name", "empty collection")
	}
	found, err := d.LookupCollection(ctx, key)
	if err != nil {
		return nil, err
	}
	for i := range found {
		if strings.EqualFold(found[i].ID, key) {
			return &found[i], nil
		}
	}
	switch len(found) {
	case 0:
		return nil, exit.Usagef("list them with: patchnight collections list", "collection %q does not exist", key)
	case 1:
		return &found[0], nil
	}
	return nil, exit.Usagef("use the CollectionID instead", "%q names %d collections", key, len(found))
}

// UpdateGroup is a software update group (an authorization list) as
// queries/sug_lookup.sql finds it.
type UpdateGroup struct {
	CIID    int64  `json:"ci_id"` // CI_ID of the authorization list
	Title   string `json:"title"`
	Updates int64  `json:"updates"` // update CIs in the group (v_CIRelation, RelationType 1)
}

// LookupGroup lists the software update groups whose CI_ID or title is key. A key that is
// not a whole number in int64's range matches by title only. The site compares titles
// case-insensitively (its collation), so the query does not fold case.
func (d *DB) LookupGroup(ctx context.Context, key string) ([]UpdateGroup, error) {
	var id int64
	if n, err := strconv.ParseInt(key, 10, 64); err == nil {
		id = n
	}
	return Collect(ctx, d, "sug_lookup", Params{"id": id, "title": key}, func(r *sql.Rows) (UpdateGroup, error) {
		var g UpdateGroup
		if err := r.Scan(&g.CIID, &g.Title, &g.Updates); err != nil {
			return g, fmt.Errorf("read software update group (v_AuthListInfo): %w", err)
		}
		return g, nil
	})
}

// ResolveGroup finds the one software update group key names, by CI_ID or title. A
// missing, empty or ambiguous key (a number that is one group's CI_ID and another's title
// included) is a usage error.
func (d *DB) ResolveGroup(ctx context.Context, key string) (*UpdateGroup, error) {
	if key == "" {
		return nil, exit.Usagef("give a software update group's title or CI_ID", "empty software update group")
	}
	found, err := d.LookupGroup(ctx, key)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, exit.Usagef("check the title in the console under Software Update Groups", "software update group %q does not exist", key)
	case 1:
		return &found[0], nil
	}
	return nil, exit.Usagef("use the group's CI_ID instead", "%q names %d software update groups", key, len(found))
}
