package sitecoll

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/site"
)

// Listed is one collection of a listing.
type Listed struct {
	CollectionID  string     `json:"collection_id"`
	Name          string     `json:"name"`
	Members       int64      `json:"members"`
	Limit         string     `json:"limiting_collection"`
	Folder        string     `json:"folder"`
	RefreshType   int        `json:"refresh_type"`
	CurrentStatus int        `json:"current_status"`
	LastRefresh   *time.Time `json:"last_refresh"`
	BuiltIn       bool       `json:"built_in"`
	Owner         string     `json:"owner_tag,omitempty"` // patchnight's tag, "" for others
}

// Listing is the result of List.
type Listing struct {
	OwnedOnly   bool     `json:"owned_only"`
	Collections []Listed `json:"collections"`
}

// List reads the site's collections (only patchnight's when ownedOnly), from SQL.
func List(ctx context.Context, db *site.DB, ownedOnly bool) (*Listing, error) {
	act, err := readActual(ctx, db)
	if err != nil {
		return nil, err
	}
	out := &Listing{OwnedOnly: ownedOnly, Collections: []Listed{}}
	for _, a := range act.list {
		if ownedOnly && !a.Owned {
			continue
		}
		l := Listed{CollectionID: a.CollectionID, Name: a.Name, Members: a.MemberCount, Limit: a.Limit,
			Folder: a.Folder, RefreshType: a.RefreshType, CurrentStatus: a.CurrentStatus, LastRefresh: a.LastRefresh,
			BuiltIn: a.BuiltIn}
		if a.Owned {
			l.Owner = collections.OwnerTag(a.Family, a.Key)
		}
		out.Collections = append(out.Collections, l)
	}
	return out, nil
}

// Grids renders the listing.
func (l *Listing) Grids() []output.Grid {
	title := strconv.Itoa(len(l.Collections)) + " collections"
	if l.OwnedOnly {
		title += " managed by patchnight"
	}
	g := output.Grid{
		Title:   title,
		Header:  []string{"CollectionID", "Name", "Members", "Limited to", "Folder", "Last refresh", "patchnight"},
		Numeric: []bool{false, false, true},
	}
	for _, c := range l.Collections {
		last := ""
		if c.LastRefresh != nil {
			last = c.LastRefresh.UTC().Format("2006-01-02 15:04Z")
		}
		g.Rows = append(g.Rows, []string{c.CollectionID, c.Name, count(c.Members), c.Limit, c.Folder, last, c.Owner})
	}
	return []output.Grid{g}
}

// MemberList is the result of Members.
type MemberList struct {
	Collection *site.CollectionRef `json:"collection"`
	Members    []ListedMember      `json:"members"`
}

// ListedMember is one member of a collection as the site evaluated it.
type ListedMember struct {
	ResourceID int64  `json:"resource_id"`
	Name       string `json:"name"`
	Domain     string `json:"domain"`
	Direct     bool   `json:"direct"`
	Client     bool   `json:"client"`
}

// Members lists the members of a collection given by CollectionID or name, from SQL.
func Members(ctx context.Context, db *site.DB, key string) (*MemberList, error) {
	c, err := db.ResolveCollection(ctx, key)
	if err != nil {
		return nil, err
	}
	out := &MemberList{Collection: c, Members: []ListedMember{}}
	err = db.Each(ctx, "collection_members", site.Params{"collection": c.ID}, func(r *sql.Rows) error {
		m, err := ScanMember(r)
		if err != nil {
			return fmt.Errorf("%w (collection %s)", err, c.ID)
		}
		out.Members = append(out.Members, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Grids renders the member list.
func (m *MemberList) Grids() []output.Grid {
	g := output.Grid{
		Title:   fmt.Sprintf("%s (%s): %d members", m.Collection.Name, m.Collection.ID, len(m.Members)),
		Header:  []string{"ResourceID", "Name", "Domain", "Direct", "Client"},
		Numeric: []bool{true},
	}
	yn := func(b bool) string {
		if b {
			return "yes"
		}
		return "no"
	}
	for _, x := range m.Members {
		g.Rows = append(g.Rows, []string{strconv.FormatInt(x.ResourceID, 10), x.Name, x.Domain, yn(x.Direct), yn(x.Client)})
	}
	return []output.Grid{g}
}

// PreviewResult shows who would be in each desired collection, from the SQL twins,
// before anything is written.
type PreviewResult struct {
	Month       string     `json:"month"`
	Collections []*Desired `json:"collections"`
}

// Preview computes the desired collections for req (as Build does, with the same
// checks) and returns them with their members.
func Preview(ctx context.Context, db *site.DB, defs *collections.Set, req Request) (*PreviewResult, error) {
	p, err := Build(ctx, db, defs, req)
	if err != nil {
		return nil, err
	}
	return &PreviewResult{Month: p.Month, Collections: p.Desired}, nil
}

// Grids renders a summary grid and one line per member.
func (p *PreviewResult) Grids() []output.Grid {
	sum := output.Grid{
		Title:   "Collections for patch month " + p.Month + " (members from the SQL twins)",
		Header:  []string{"Collection", "Family", "Rule", "SQL twin", "Members"},
		Numeric: []bool{false, false, false, false, true},
	}
	mem := output.Grid{Title: "Members", Header: []string{"Collection", "ResourceID", "Name"}, Numeric: []bool{false, true}}
	for _, d := range p.Collections {
		sum.Rows = append(sum.Rows, []string{d.Name, d.Family, string(d.Membership), d.SQL, strconv.Itoa(len(d.Members))})
		for _, m := range d.Members {
			mem.Rows = append(mem.Rows, []string{d.Name, strconv.FormatInt(m.ResourceID, 10), m.Name})
		}
	}
	return []output.Grid{sum, mem}
}

// ScanMember reads one row of queries/collection_members.sql. IsDirect and Client0 are
// flags whose SQL type on a site is unconfirmed (bit or int): they are scanned as
// site.Flag, which takes either.
func ScanMember(r *sql.Rows) (ListedMember, error) {
	var m ListedMember
	var direct, client site.Flag
	if err := r.Scan(&m.ResourceID, &m.Name, &direct, &client, &m.Domain); err != nil {
		return m, fmt.Errorf("read collection member: %w", err)
	}
	m.Direct, m.Client = direct.Bool(), client.Bool()
	return m, nil
}
