package main

import (
	"bufio"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
)

// consentFlags are --yes and --dry-run of a command that restarts, installs or changes
// collections on a selection. Scheduled run and night do not take them: the plan is the
// consent.
type consentFlags struct {
	Yes    bool
	DryRun bool
}

func (c *consentFlags) add(cmd *cobra.Command, yes, dryRun string) {
	cmd.Flags().BoolVar(&c.Yes, "yes", false, yes)
	cmd.Flags().BoolVar(&c.DryRun, "dry-run", false, dryRun)
}

// consent is what a command may do after confirm: act, or stop having changed nothing.
type consent int

const (
	consentAct  consent = iota // --yes, or the terminal answered y
	consentStop                // --dry-run (the list was printed) or the terminal answered no
)

// confirmRequest describes one action on a selection for confirm.
type confirmRequest struct {
	Verb  string // "restart", "install", "apply the changes to", ...
	Count int    // how many items
	Noun  string // "machines", "collections", ...
	Where string // "in LAB00011" or ""
	// List prints what would be done, for --dry-run; nil when the caller prints it itself.
	List iter.Seq[string]
	// Show, when set, prints the details before the question on a terminal.
	Show func() error
}

// confirm is the one confirmation of every command that restarts, installs or changes
// collections on a selection: --dry-run lists what would be done and stops; --yes acts;
// a terminal is asked "restart 132 machines in LAB00011? [y/N]" (read from IO.In) and
// only y or yes acts; without a terminal and without --yes it refuses with exit 64.
func (a *App) confirm(f consentFlags, r confirmRequest) (consent, error) {
	what := strings.TrimSpace(fmt.Sprintf("%s %d %s %s", r.Verb, r.Count, r.Noun, r.Where))
	if f.DryRun {
		if r.List != nil {
			d := &dryRun{DryRun: true, Action: r.Verb, Count: r.Count, Where: r.Where, Items: slices.Collect(r.List), what: what}
			if d.Items == nil {
				d.Items = []string{}
			}
			if err := a.Print(d); err != nil {
				return consentStop, err
			}
		}
		return consentStop, nil
	}
	if f.Yes {
		return consentAct, nil
	}
	if !a.IO.StdinTerminal {
		return consentStop, exit.Usagef(fmt.Sprintf("pass --yes to %s them, or --dry-run to list them", r.Verb),
			"%s: nobody to confirm on a terminal", what)
	}
	if r.Show != nil {
		if err := r.Show(); err != nil {
			return consentStop, err
		}
	}
	fmt.Fprintf(a.IO.Err, "%s? [y/N] ", what)
	// An answer cut short (end of input) counts as far as it goes: nothing is no.
	line, _ := bufio.NewReader(a.IO.In).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return consentAct, nil
	}
	fmt.Fprintln(a.IO.Err, "nothing done")
	return consentStop, nil
}

// dryRun is what --dry-run prints: the items (machines) the command would act on.
type dryRun struct {
	DryRun bool     `json:"dry_run"`
	Action string   `json:"action"`
	Count  int      `json:"count"`
	Where  string   `json:"where,omitempty"`
	Items  []string `json:"items"`
	what   string
}

func (d *dryRun) Grids() []output.Grid {
	g := output.Grid{Title: "dry run, nothing changed: would " + d.what, Header: []string{"Machine"}}
	for _, s := range d.Items {
		g.Rows = append(g.Rows, []string{s})
	}
	return []output.Grid{g}
}
