package sitecoll

import (
	"context"
	"database/sql"
	"errors"
	"iter"

	"github.com/patchnight/patchnight/pkg/site"
)

// errStop ends a members read early (the consumer stopped).
var errStop = errors.New("stopped")

// ClientNames streams the names of the collection's members that have a ConfigMgr client,
// read from the site database as the consumer asks for them. A read error ends the
// stream and is passed to onErr (which may be nil).
func ClientNames(ctx context.Context, db *site.DB, collectionID string, onErr func(error)) iter.Seq[string] {
	return func(yield func(string) bool) {
		err := db.Each(ctx, "collection_members", site.Params{"collection": collectionID}, func(r *sql.Rows) error {
			m, err := ScanMember(r)
			if err != nil {
				return err
			}
			if m.Name == "" || !m.Client {
				return nil
			}
			if !yield(m.Name) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) && onErr != nil {
			onErr(err)
		}
	}
}
