package runner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/output"
)

// Grids renders the dry run: one line per occurrence (targets, restarts, the time it needs
// against its limit and the next step), then per step with machines the counts per
// location and collection, the collections it would write and the wake plan per subnet,
// then the notes. The list of machines is in the JSON form only.
func (d *DryRun) Grids() []output.Grid {
	scope := "every client"
	if d.Scope != "" {
		scope = d.Scope
		if d.ScopeName != "" {
			scope = d.ScopeName + " (" + d.Scope + ")"
		}
	}
	head := output.Grid{
		Title: fmt.Sprintf("dry run, nothing done: night of %s (Patch Tuesday %s, %s), update group %s, scope %s, concurrency %d",
			d.Month, d.PatchTuesday, d.TimeZone, d.Group, scope, d.Concurrency),
		Header:  []string{"Time", "Step", "Action", "Target", "Machines", "Online", "Logged on", "May restart", "Needs", "Limit", "Next in", "Fits"},
		Numeric: []bool{false, false, false, false, true, true, true, true, true, true, true, false},
	}
	var details []output.Grid
	notes := output.Grid{Title: "Notes", Header: []string{"Step", "Note"}}
	notes.Rows = append(notes.Rows, []string{"all", d.Note})
	for _, c := range d.Exclusions {
		notes.Rows = append(notes.Rows, []string{"all", fmt.Sprintf("excluded: %s (%s), %d members: no step touches them", c.Name, c.ID, c.Members)})
	}
	notes.Rows = append(notes.Rows, []string{"all", fmt.Sprintf("per-host estimates (assumptions, README \"Rehearsing a night\"): "+
		"a client action %ds, queueing an install %ds, an install job %ds, a collection write %ds; "+
		"worst case: every host takes the %ds per-host timeout", d.Estimates.Call, d.Estimates.Install,
		d.Estimates.InstallJob, d.Estimates.Collection, d.HostTimeout)})
	for _, s := range d.Steps {
		target := s.Selector
		if s.Collection != "" {
			target = strings.TrimSpace(target + " in " + s.Collection)
		}
		machines, online, logged, restart := "-", "-", "-", "-"
		if s.OnHosts {
			machines, online, logged = strconv.Itoa(s.Targets), strconv.Itoa(s.Online), strconv.Itoa(s.LoggedOn)
		}
		if s.Wake != nil {
			logged = "-" // the wake planner does not read who is logged on
		}
		if s.Restarts != nil {
			restart = strconv.Itoa(s.Restarts.Machines)
			if s.Restarts.Prompted {
				restart = "0 (prompt)"
			}
		}
		next := "-"
		if s.Time.Window > 0 {
			next = dur(s.Time.Window)
		}
		fits := "yes"
		if !s.Time.Fits {
			fits = "NO"
		}
		head.Rows = append(head.Rows, []string{s.At.Format("Mon 15:04"), s.Occurrence, s.Action, target, machines, online, logged,
			restart, dur(s.Time.Needs), dur(s.Time.Limit), next, fits})
		for _, n := range []string{s.Problem, s.Note, s.Time.Warning, s.Time.Basis} {
			if n != "" {
				notes.Rows = append(notes.Rows, []string{s.Occurrence, n})
			}
		}
		if s.Restarts != nil {
			notes.Rows = append(notes.Rows, []string{s.Occurrence, fmt.Sprintf("may restart %d machines: %d with a user logged on now, %d offline (not known); %s",
				s.Restarts.Machines, s.Restarts.LoggedOn, s.Restarts.Unknown, s.Restarts.Note)})
		}
		if s.OnHosts && s.Targets > 0 {
			g := output.Grid{Title: s.Occurrence + ": machines by location and collection", Header: []string{"By", "Name", "Machines"},
				Numeric: []bool{false, false, true}}
			for _, c := range s.ByLocation {
				g.Rows = append(g.Rows, []string{"location", c.Name, strconv.Itoa(c.Machines)})
			}
			for _, c := range s.ByCollection {
				g.Rows = append(g.Rows, []string{"collection", c.Name + " (" + c.ID + ")", strconv.Itoa(c.Machines)})
			}
			if s.Excluded > 0 {
				g.Rows = append(g.Rows, []string{"excluded", "", strconv.Itoa(s.Excluded)})
			}
			details = append(details, g)
		}
		if len(s.Collections) > 0 {
			g := output.Grid{Title: s.Occurrence + ": collections it would write", Header: []string{"Action", "Collection", "CollectionID", "Family", "Membership", "Rules", "Members"},
				Numeric: []bool{false, false, false, false, false, true, true}}
			for _, c := range s.Collections {
				id := c.CollectionID
				if id == "" {
					id = "(new)"
				}
				members := "-"
				if c.Members >= 0 {
					members = strconv.FormatInt(c.Members, 10)
				}
				g.Rows = append(g.Rows, []string{c.Action, c.Name, id, c.Family, c.Membership, strconv.Itoa(c.Rules), members})
			}
			details = append(details, g)
		}
		if s.Wake != nil {
			g := output.Grid{Title: fmt.Sprintf("%s: wake plan per subnet (%s mode, %d packets from here, %d through relays)", s.Occurrence,
				s.Wake.Mode, s.Wake.Packets, s.Wake.Relayed),
				Header: []string{"Subnet", "Method", "Wake", "Awake", "No MAC", "No route", "Via", "Reason"}, Numeric: []bool{false, false, true, true, true, true}}
			for _, w := range s.Wake.Subnets {
				m := string(w.Method)
				if m == "" {
					m = "-"
				}
				g.Rows = append(g.Rows, []string{w.Subnet, m, strconv.Itoa(w.Wake), strconv.Itoa(w.Awake), strconv.Itoa(w.NoMAC),
					strconv.Itoa(w.NoRoute), strings.Join(w.Via, ","), w.Reason})
			}
			details = append(details, g)
		}
	}
	return append(append([]output.Grid{head}, details...), notes)
}
