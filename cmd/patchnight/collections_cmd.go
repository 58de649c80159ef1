package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/output"
	"github.com/patchnight/patchnight/pkg/sitecoll"
)

func newCollectionsCmd(app *App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collections",
		Short: "Collections as code: per-update, scan-behind and night collections",
		Long: `Collections as code. The definitions (collections/*.yaml in the source, embedded in the
binary) describe families of collections: one per update still missing (missing-update),
clients whose scan is behind the current catalog (scan-behind), and the night's working sets
(logged on, nobody logged on, pending restart, failed installs, needs attention).
plan compares them with the site and writes nothing; apply carries the plan out through the
SMS Provider; collections patchnight owns carry a [patchnight:...] tag in their comment and
no other collection is ever touched.`,
	}
	cmd.AddCommand(newCollectionsPlanCmd(app, "plan"), newCollectionsPlanCmd(app, "apply"),
		newCollectionsPlanCmd(app, "prune"), newCollectionsPlanCmd(app, "preview"),
		newCollectionsPlanCmd(app, "export"), newCollectionsListCmd(app), newCollectionsMembersCmd(app))
	return cmd
}

type collectionFlags struct {
	families []string
	group    string
	updates  []string
	month    string
	consent  consentFlags // apply, prune: --yes, --dry-run
	wait     time.Duration
	format   string
}

func (f *collectionFlags) request(app *App, prune bool) sitecoll.Request {
	return sitecoll.Request{Families: f.families, Group: f.group, Updates: f.updates, Month: f.month,
		Now: app.Now().UTC(), Prune: prune}
}

func newCollectionsPlanCmd(app *App, verb string) *cobra.Command {
	var f collectionFlags
	short := map[string]string{
		"plan":    "Compare the wanted collections with the site: create, update rule, update members, delete; writes nothing",
		"apply":   "Carry the plan out through the SMS Provider (idempotent), after confirmation or --yes; --dry-run prints the plan",
		"prune":   "Delete owned collections no longer wanted (old months), after confirmation or --yes",
		"preview": "Show who would be in each wanted collection, from the site database, before anything is written",
		"export":  "Write the wanted collections as a reviewable PowerShell script (ConfigurationManager cmdlets) or JSON",
	}[verb]
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if f.wait < 0 {
				return exit.Usagef("use a duration like 5m, or 0 not to wait", "--wait %s is negative", f.wait)
			}
			if verb == "export" {
				// -o json asks for the JSON export; --format says which file it is.
				switch o := app.Format(); {
				case o == output.JSON && !cmd.Flags().Changed("format"):
					f.format = "json"
				case o == output.JSON && f.format != "json", o != output.Table && o != output.JSON:
					return exit.Usagef("use --format ps1 or --format json, and -o table or -o json", "collections export cannot write %s as %s", f.format, o)
				}
			}
			if verb == "export" && f.format != "ps1" && f.format != "json" {
				return exit.Usagef("use --format ps1 or --format json", "--format %q is not an export format", f.format)
			}
			defs, err := collections.Load()
			if err != nil {
				return err
			}
			s, db, err := openSite(ctx, app.Session)
			if err != nil {
				return err
			}
			defer s.Close()
			req := f.request(app, verb == "prune")
			if verb == "preview" {
				res, err := sitecoll.Preview(ctx, db, defs, req)
				if err != nil {
					return err
				}
				return app.Print(res)
			}
			plan, err := sitecoll.Build(ctx, db, defs, req)
			if err != nil {
				return err
			}
			if verb == "prune" {
				plan = plan.Deletes()
			}
			switch {
			case verb == "export":
				return plan.Export(app.IO.Out, f.format)
			case verb == "plan" || f.consent.DryRun:
				return app.Print(plan)
			}
			if n := plan.Pending(); n > 0 {
				// The one confirmation of every command that changes the site (confirm.go):
				// a terminal sees the plan and is asked; without one, --yes is needed.
				req := confirmRequest{Verb: "apply", Count: n, Noun: "collection changes", Where: "at the site",
					Show: func() error { return app.Print(plan) }}
				if verb == "prune" {
					req.Verb, req.Noun = "delete", "collections"
				}
				c, err := app.confirm(f.consent, req)
				if err != nil {
					return err
				}
				if c == consentStop {
					return app.Print(&sitecoll.Result{Cancelled: true, Collections: []sitecoll.Applied{}, Deleted: []string{}})
				}
			}
			prov, err := s.Provider(ctx)
			if err != nil {
				return err
			}
			res, err := sitecoll.Apply(ctx, plan, prov, sitecoll.ApplyOptions{Wait: f.wait, Yes: true})
			if err != nil {
				return err
			}
			return app.Print(res)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.families, "family", nil, "only these families (missing-update, scan-behind, night-...)")
	fl.StringVar(&f.group, "group", "", "software update group (title or CI_ID): one missing-update collection per update in it")
	fl.StringSliceVar(&f.updates, "updates", nil, "updates (KB5071234, MS17-010, ...): one missing-update collection each")
	fl.StringVar(&f.month, "month", "", "patch month YYYY-MM for the names (default: this month)")
	cmd.MarkFlagsMutuallyExclusive("group", "updates")
	switch verb {
	case "apply", "prune":
		f.consent.add(cmd, "write without asking", "print the plan and write nothing")
		fl.DurationVar(&f.wait, "wait", 5*time.Minute, "how long to wait for the site to evaluate the changed collections (0: do not wait)")
	}
	if verb == "export" {
		fl.StringVar(&f.format, "format", "ps1", "ps1 or json")
	}
	return cmd
}

func newCollectionsListCmd(app *App) *cobra.Command {
	var owned bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the site's collections (--owned: only those patchnight manages), from SQL",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			db, err := app.Site(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			l, err := sitecoll.List(cmd.Context(), db, owned)
			if err != nil {
				return err
			}
			return app.Print(l)
		},
	}
	cmd.Flags().BoolVar(&owned, "owned", false, "only collections patchnight owns")
	return cmd
}

func newCollectionsMembersCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "members ID|NAME",
		Short: "List a collection's members, from SQL",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			db, err := app.Site(cmd.Context())
			if err != nil {
				return err
			}
			defer db.Close()
			m, err := sitecoll.Members(cmd.Context(), db, args[0])
			if err != nil {
				return err
			}
			return app.Print(m)
		},
	}
}
