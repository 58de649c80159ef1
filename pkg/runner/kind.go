package runner

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/site"
)

// The machine kinds of the follow-up report (issue 17).
const (
	KindLaptop  = "laptop"
	KindDesktop = "desktop"
	KindVirtual = "virtual"
	KindUnknown = "unknown"
)

// KindNames lists the machine kinds in report order.
func KindNames() []string { return []string{KindLaptop, KindDesktop, KindVirtual, KindUnknown} }

// chassisKind is what one Win32_SystemEnclosure.ChassisTypes value (CIM_Chassis,
// learn.microsoft.com cimwin32prov/win32-systemenclosure) says: the portable types make a
// laptop, the fixed ones a desktop, the rest (1 Other, 2 Unknown, 12 Docking Station,
// servers and racks) nothing.
func chassisKind(c int) string {
	switch c {
	case 8, 9, 10, 11, 14, 30, 31, 32: // Portable, Laptop, Notebook, Hand Held, Sub Notebook, Tablet, Convertible, Detachable
		return KindLaptop
	case 3, 4, 5, 6, 7, 13, 15, 16, 35: // Desktop, Low Profile Desktop, Pizza Box, Mini Tower, Tower, All in One, Space-Saving, Lunch Box, Mini PC
		return KindDesktop
	}
	return ""
}

// MachineKind is the kind of a machine: virtual when the site's flag says so, else laptop
// when any enclosure has a portable chassis type (a docked laptop reports its dock too),
// else desktop when one has a fixed one, else unknown.
func MachineKind(virtual bool, chassis []int) string {
	if virtual {
		return KindVirtual
	}
	kind := KindUnknown
	for _, c := range chassis {
		switch chassisKind(c) {
		case KindLaptop:
			return KindLaptop
		case KindDesktop:
			kind = KindDesktop
		}
	}
	return kind
}

// parseChassis takes every number in a ChassisTypes0 value. How the site stores the array
// is unconfirmed (one value, or several in one text), so any run of digits counts.
func parseChassis(s string) []int {
	var out []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' }) {
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// hostKinds is each machine's kind in scope, by ResourceID, and a note naming what the
// site lacks when some kinds cannot be known. The two columns it reads have unconfirmed
// names (docs/reference-additions.md): a site without one still gets kinds from the
// other, and the report says so instead of failing.
func (r *Runner) hostKinds(ctx context.Context) (map[int64]string, string, error) {
	params := site.Params{"scope": r.scopeID}
	var notes []string
	missing := func(what string, err error) error {
		if se := site.ClassifySchemaError(err); se != nil {
			notes = append(notes, fmt.Sprintf("the site lacks %s, needed to tell %s: run patchnight doctor", se.Name, what))
			r.Env.Log.Warn("machine kinds without "+what, "error", err)
			return nil
		}
		return err
	}
	virtual := map[int64]bool{}
	err := r.Env.Site.Each(ctx, "host_virtual", params, func(rows *sql.Rows) error {
		var id int64
		var v site.Flag
		if err := rows.Scan(&id, &v); err != nil {
			return fmt.Errorf("read host_virtual: %w", err)
		}
		virtual[id] = v.Bool()
		return nil
	})
	if err := missing("virtual machines", err); err != nil {
		return nil, "", err
	}
	chassis := map[int64][]int{}
	err = r.Env.Site.Each(ctx, "host_chassis", params, func(rows *sql.Rows) error {
		var id int64
		var s sql.NullString
		if err := rows.Scan(&id, &s); err != nil {
			return fmt.Errorf("read host_chassis: %w", err)
		}
		chassis[id] = append(chassis[id], parseChassis(s.String)...)
		return nil
	})
	if err := missing("laptops from desktops", err); err != nil {
		return nil, "", err
	}
	out := map[int64]string{}
	for id := range virtual {
		out[id] = MachineKind(virtual[id], chassis[id])
	}
	for id := range chassis {
		if _, ok := out[id]; !ok {
			out[id] = MachineKind(false, chassis[id])
		}
	}
	return out, strings.Join(notes, "; "), nil
}

// breakdown splits a measurement by location and by machine kind: every eligible machine
// counted in m is counted once in each dimension. A failure to read the kinds is not the
// measurement's failure: every kind is unknown then, and the note says why.
type breakdown struct {
	kinds map[int64]string
	note  string
	loc   map[string]*journal.Group
	kind  map[string]*journal.Group
}

func (r *Runner) newBreakdown(ctx context.Context) *breakdown {
	b := &breakdown{loc: map[string]*journal.Group{}, kind: map[string]*journal.Group{}}
	kinds, note, err := r.hostKinds(ctx)
	if err != nil {
		r.Env.Log.Warn("machine kinds not read", "error", err)
		note = "kinds not read: " + oneLine(err.Error())
	}
	b.kinds, b.note = kinds, note
	return b
}

// add counts one eligible machine.
func (b *breakdown) add(h hostState) {
	k := b.kinds[h.ResourceID]
	if k == "" {
		k = KindUnknown
	}
	for _, x := range []struct {
		m    map[string]*journal.Group
		dim  string
		name string
	}{{b.loc, journal.DimLocation, h.Location}, {b.kind, journal.DimKind, k}} {
		g := x.m[x.name]
		if g == nil {
			g = &journal.Group{Dim: x.dim, Name: x.name}
			x.m[x.name] = g
		}
		g.Eligible++
		if h.Patched() {
			g.Patched++
		}
	}
}

// record stores the breakdown of step.
func (b *breakdown) record(ctx context.Context, j *journal.DB, step journal.StepID) error {
	out := journal.Breakdown{Step: step, Note: b.note, Groups: []journal.Group{}}
	for _, m := range []map[string]*journal.Group{b.loc, b.kind} {
		for _, g := range m {
			out.Groups = append(out.Groups, *g)
		}
	}
	sort.Slice(out.Groups, func(i, k int) bool {
		a, c := out.Groups[i], out.Groups[k]
		if a.Dim != c.Dim {
			return a.Dim < c.Dim
		}
		return a.Name < c.Name
	})
	return j.RecordBreakdown(ctx, out)
}
