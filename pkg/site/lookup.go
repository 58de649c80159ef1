package site

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/patchnight/patchnight/pkg/exit"
)

// CollectionRef is a collection as queries/collection_lookup.sql finds it.
type CollectionRef struct {
	ID      string // CollectionID, as the site spells it
	Name    string
	Members int64 // MemberCount at the last evaluation
	Type    int64 // CollectionType: 1 user, 2 device
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
	var out []CollectionRef
	err := d.Each(ctx, "collection_lookup", Params{"key": key}, func(r *sql.Rows) error {
		c, err := scanCollectionRef(r)
		if err != nil {
			return err
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// ResolveCollection finds the one collection key names: its CollectionID, or else its
// name. A missing or ambiguous key is a usage error. Resolve a collection once, before a
// set-based query, and pass the ID: `CollectionID = @id OR CollectionID IN (... Name =
// @name)` defeats index seeks on SQL Server (reference 12).
func (d *DB) ResolveCollection(ctx context.Context, key string) (CollectionRef, error) {
	if key == "" {
		return CollectionRef{}, exit.Usagef("give a CollectionID like ABC00012 or a collection name", "empty collection")
	}
	found, err := d.LookupCollection(ctx, key)
	if err != nil {
		return CollectionRef{}, err
	}
	for _, c := range found {
		if strings.EqualFold(c.ID, key) {
			return c, nil
		}
	}
	switch len(found) {
	case 0:
		return CollectionRef{}, exit.Usagef("list them with: patchnight collections list", "collection %q does not exist", key)
	case 1:
		return found[0], nil
	}
	return CollectionRef{}, exit.Usagef("use the CollectionID instead", "%q names %d collections", key, len(found))
}
