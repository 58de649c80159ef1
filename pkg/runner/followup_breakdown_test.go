package runner_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/runner"
)

// TestFollowUpBreakdown: the long-tail report's share by location and by machine kind
// (issue 17) comes from the journal: every measured day's groups add up to the day's
// figure, the last day's groups are the breakdown the journal holds for that measurement,
// and the kinds are the lab's machines (virtual by the flag, laptop and desktop by the
// chassis, unknown without hardware inventory). On a site without the two kind columns the
// night runs, the report runs, and every machine is of kind unknown with a note.
func TestFollowUpBreakdown(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		drop    bool
		noteHas []string
	}{
		{"kind columns", false, nil},
		{"no kind columns", true, []string{"Is_Virtual_Machine0", "v_GS_SYSTEM_ENCLOSURE", "patchnight doctor"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			path := buildLabWith(t, 40, &lab.FaultRates{InstallFault: 0.05})
			raw, err := sql.Open("sqlite", "file:"+path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if tc.drop {
				if err := lab.DropViewColumn(ctx, raw, "v_R_System", "Is_Virtual_Machine0"); err != nil {
					t.Fatal(err)
				}
				if err := lab.DropView(ctx, raw, "v_GS_SYSTEM_ENCLOSURE"); err != nil {
					t.Fatal(err)
				}
			}
			e := newEnv(t, path, filepath.Join(t.TempDir(), "state"), nil)
			defer e.close()
			if err := e.run.Night(ctx); err != nil {
				t.Fatal(err)
			}
			rep, err := runner.BuildFollowUp(ctx, e.run)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.noteHas {
				if !strings.Contains(rep.BreakdownNote, w) {
					t.Errorf("note %q lacks %q", rep.BreakdownNote, w)
				}
			}
			if len(tc.noteHas) == 0 && rep.BreakdownNote != "" {
				t.Errorf("note %q on a site with both columns", rep.BreakdownNote)
			}
			last := -1
			for i, d := range rep.Days {
				for _, part := range []struct {
					dim    string
					series []runner.FollowUpSeries
				}{{"location", rep.ByLocation}, {"kind", rep.ByKind}} {
					var elig, patched int64
					for _, s := range part.series {
						sh := s.Days[i]
						if sh.Day != d.Day || sh.Measured != d.Measured {
							t.Fatalf("%s %s D+%d: %+v against the day %+v", part.dim, s.Name, d.Day, sh, d)
						}
						elig, patched = elig+sh.Eligible, patched+sh.Patched
					}
					if elig != d.Eligible || patched != d.Patched {
						t.Errorf("D+%d by %s: %d of %d, the day's figure %d of %d", d.Day, part.dim, patched, elig, d.Patched, d.Eligible)
					}
				}
				if d.Measured {
					last = i
				}
			}
			if last < 1 || rep.Days[last].Eligible == 0 {
				t.Fatalf("no measured day after the night: %+v", rep.Days)
			}

			// The last day's groups are the journal's breakdown of its measurement.
			metrics, err := e.j.Metrics(ctx, e.run.Run().ID)
			if err != nil {
				t.Fatal(err)
			}
			bds, err := e.j.Breakdowns(ctx, e.run.Run().ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(bds) != len(metrics) {
				t.Errorf("%d measurements, %d breakdowns", len(metrics), len(bds))
			}
			var lastM journal.Metric
			for _, m := range metrics {
				if m.At.After(lastM.At) || m.At.Equal(lastM.At) && m.Step > lastM.Step {
					lastM = m
				}
			}
			inJournal := map[string]journal.Group{}
			for _, g := range bds[lastM.Step].Groups {
				inJournal[g.Dim+"/"+g.Name] = g
			}
			inReport := map[string]runner.FollowUpShare{}
			for _, s := range rep.ByLocation {
				name := s.Name
				if name == runner.NoLocation {
					name = ""
				}
				inReport[journal.DimLocation+"/"+name] = s.Days[last]
			}
			for _, s := range rep.ByKind {
				inReport[journal.DimKind+"/"+s.Name] = s.Days[last]
			}
			for k, g := range inJournal {
				if r := inReport[k]; r.Eligible != g.Eligible || r.Patched != g.Patched {
					t.Errorf("%s: report %d of %d, journal %d of %d", k, r.Patched, r.Eligible, g.Patched, g.Eligible)
				}
			}
			if len(inJournal) != len(inReport) {
				t.Errorf("journal groups %v, report groups %v", inJournal, inReport)
			}

			// The kinds against the lab's own machines, eligible and in scope.
			ex, err := e.run.ExcludedHosts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := raw.QueryContext(ctx, `SELECT h.ResourceID, h.FormFactor, h.LastHW IS NOT NULL FROM lab_host h
				JOIN v_FullCollectionMembership f ON f.ResourceID = h.ResourceID AND f.CollectionID = ?
				WHERE h.IsClient = 1 AND h.Active = 1 AND h.ClientCheckPass = 1 AND h.Obsolete = 0 AND h.Decommissioned = 0`,
				e.run.Scope().ID)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]int64{}
			for rows.Next() {
				var id int64
				var form string
				var hw bool
				if err := rows.Scan(&id, &form, &hw); err != nil {
					t.Fatal(err)
				}
				if _, out := ex[id]; out {
					continue
				}
				switch {
				case tc.drop:
					want[runner.KindUnknown]++
				case form == "virtual":
					want[runner.KindVirtual]++
				case !hw:
					want[runner.KindUnknown]++
				default:
					want[form]++
				}
			}
			rows.Close()
			got := map[string]int64{}
			for _, s := range rep.ByKind {
				got[s.Name] = s.Days[last].Eligible
			}
			t.Logf("D+%d by kind %v (lab %v), %d locations; note %q", rep.Days[last].Day, got, want, len(rep.ByLocation), rep.BreakdownNote)
			for _, k := range runner.KindNames() {
				if got[k] != want[k] {
					t.Errorf("kind %s: %d eligible in the report, %d in the lab (all %v, lab %v)", k, got[k], want[k], got, want)
				}
			}
			if !tc.drop && (want[runner.KindLaptop] == 0 || want[runner.KindDesktop] == 0 || want[runner.KindVirtual] == 0) {
				t.Errorf("the lab lacks a kind: %v", want)
			}
			if len(rep.ByLocation) < 2 {
				t.Errorf("%d locations: the lab has several", len(rep.ByLocation))
			}
			grids := rep.Grids()
			var titles []string
			for _, g := range grids {
				titles = append(titles, g.Title)
			}
			all := strings.Join(titles, "\n")
			if !strings.Contains(all, "by day and location") || !strings.Contains(all, "by day and machine kind") ||
				tc.drop && !strings.Contains(all, "Is_Virtual_Machine0") {
				t.Errorf("grid titles:\n%s", all)
			}
		})
	}
}
