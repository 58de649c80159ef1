package report

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/fleet"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/site"
)

// MissingHost is one machine that still misses an update.
type MissingHost struct {
	ResourceID       int64      `json:"resource_id"`
	Name             string     `json:"name"`
	CIID             int64      `json:"ci_id"`
	ArticleID        string     `json:"article_id"`
	BulletinID       string     `json:"bulletin_id"`
	Title            string     `json:"title"`
	LastScan         *time.Time `json:"last_scan,omitempty"`
	EnforcementState int        `json:"enforcement_state"`
	Enforcement      string     `json:"enforcement_state_name"`
	LastError        string     `json:"last_error,omitempty"`
	Online           bool       `json:"online"`
	User             string     `json:"current_user,omitempty"`
}

// Missing is the report of machines that miss one update.
type Missing struct {
	Update fleet.UpdateRef     `json:"update"`
	Scope  *site.CollectionRef `json:"collection,omitempty"`
	Hosts  []MissingHost       `json:"hosts"`
}

// MissingReport lists the machines that still miss update (in coll, if not nil).
func MissingReport(ctx context.Context, db *site.DB, update fleet.UpdateRef, coll *site.CollectionRef) (*Missing, error) {
	p := site.Params{"article": update.ArticleID, "bulletin": update.BulletinID, "collection": ""}
	if coll != nil {
		p["collection"] = coll.ID
	}
	rep := &Missing{Update: update, Scope: coll, Hosts: []MissingHost{}}
	err := db.Each(ctx, "hosts_missing", p, func(r *sql.Rows) error {
		h, err := scanMissingHost(r)
		if err != nil {
			return err
		}
		rep.Hosts = append(rep.Hosts, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// scanMissingHost reads one row of queries/hosts_missing.sql.
func scanMissingHost(r *sql.Rows) (MissingHost, error) {
	var h MissingHost
	var scan site.NullTime
	var errCode int64
	var online site.Flag // CNIsOnline: SQL type unconfirmed (bit or int)
	if err := r.Scan(&h.ResourceID, &h.Name, &h.CIID, &h.ArticleID, &h.BulletinID, &h.Title,
		&scan, &h.EnforcementState, &h.Enforcement, &errCode, &online, &h.User); err != nil {
		return h, fmt.Errorf("read missing host: %w", err)
	}
	h.LastScan, h.LastError, h.Online = scan.Ptr(), fleet.HResult(errCode), online.Bool()
	return h, nil
}

// Grids renders the machines as a table.
func (m *Missing) Grids() []output.Grid {
	g := output.Grid{
		Title:  fmt.Sprintf("Machines missing %s: %d", m.Update, len(m.Hosts)),
		Header: []string{"Machine", "Update", "Last scan (UTC)", "Last enforcement", "Error", "Online", "User"},
	}
	for _, h := range m.Hosts {
		g.Rows = append(g.Rows, []string{h.Name, updateLabel(h.ArticleID, h.BulletinID), timeText(h.LastScan),
			h.Enforcement, h.LastError, yesNo(h.Online), h.User})
	}
	return []output.Grid{g}
}

// HostUpdate is one update's state on one machine.
type HostUpdate struct {
	CIID             int64      `json:"ci_id"`
	ArticleID        string     `json:"article_id"`
	BulletinID       string     `json:"bulletin_id"`
	Title            string     `json:"title"`
	Status           int        `json:"status"`
	StatusName       string     `json:"status_name"`
	EnforcementState int        `json:"enforcement_state"`
	Enforcement      string     `json:"enforcement_state_name"`
	LastError        string     `json:"last_error,omitempty"`
	LastScan         *time.Time `json:"last_scan,omitempty"`
}

// HostDetail is one machine's updates.
type HostDetail struct {
	ResourceID int64        `json:"resource_id"`
	Name       string       `json:"name"`
	Missing    int          `json:"missing"`
	Updates    []HostUpdate `json:"updates"`
}

// HostReport lists one machine's updates, missing ones first.
func HostReport(ctx context.Context, db *site.DB, name string) (*HostDetail, error) {
	if name == "" {
		return nil, exit.Usagef("give a machine name", "empty machine name")
	}
	rep := &HostDetail{Updates: []HostUpdate{}}
	err := db.Each(ctx, "host_updates", site.Params{"name": name}, func(r *sql.Rows) error {
		var u HostUpdate
		var scan site.NullTime
		var errCode int64
		if err := r.Scan(&rep.ResourceID, &rep.Name, &u.CIID, &u.ArticleID, &u.BulletinID, &u.Title,
			&u.Status, &u.EnforcementState, &u.Enforcement, &errCode, &scan); err != nil {
			return fmt.Errorf("read host update: %w", err)
		}
		u.StatusName, u.LastError, u.LastScan = fleet.StatusName(u.Status), fleet.HResult(errCode), scan.Ptr()
		if u.Status == fleet.StatusRequired {
			rep.Missing++
		}
		rep.Updates = append(rep.Updates, u)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rep.Name == "" {
		return nil, exit.Usagef("check the name; machine names are as in the console", "machine %q is not in the site database", name)
	}
	return rep, nil
}

// Grids renders the machine's updates as a table.
func (h *HostDetail) Grids() []output.Grid {
	g := output.Grid{
		Title:  fmt.Sprintf("%s (ResourceID %d): %d updates missing", h.Name, h.ResourceID, h.Missing),
		Header: []string{"Update", "Title", "State", "Last enforcement", "Error", "Last scan (UTC)"},
	}
	for _, u := range h.Updates {
		g.Rows = append(g.Rows, []string{updateLabel(u.ArticleID, u.BulletinID), clip(u.Title, 70), u.StatusName,
			u.Enforcement, u.LastError, timeText(u.LastScan)})
	}
	return []output.Grid{g}
}

func updateLabel(article, bulletin string) string {
	switch {
	case article != "" && bulletin != "":
		return "KB" + article + " " + bulletin
	case article != "":
		return "KB" + article
	}
	return bulletin
}

func timeText(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
