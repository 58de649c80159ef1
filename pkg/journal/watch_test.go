package journal

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestWatchState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	j := openTest(t, dir, Options{})
	if _, ok, err := j.LastWatchPass(ctx); ok || err != nil {
		t.Fatalf("a pass before the first: %v %v", ok, err)
	}
	t0 := time.Date(2026, 12, 9, 8, 15, 0, 0, time.UTC)
	id1, err := j.RecordWatchPass(ctx, WatchPass{At: t0, Behind: 5, Online: 2, CameOnline: 2, Noticed: 1, Scanned: 2},
		[]WatchAction{{Host: "PC1", ResourceID: 1, Noticed: true, Scanned: true}, {Host: "PC2", ResourceID: 2, NoticeNote: "nobody-logged-on\n", Scanned: true}},
		[]WatchHost{{Host: "PC1", ResourceID: 1}, {Host: "pc2", ResourceID: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t1 := t0.Add(30 * time.Minute)
	// PC2 went offline; PC1 stays (since the first pass); PC3 came online.
	id2, err := j.RecordWatchPass(ctx, WatchPass{At: t1, Behind: 5, Online: 2, CameOnline: 1, Scanned: 1},
		[]WatchAction{{Host: "PC3", ResourceID: 3, NoticeNote: "too-soon", Scanned: true}},
		[]WatchHost{{Host: "PC1", ResourceID: 1, Since: t0}, {Host: "PC3", ResourceID: 3}})
	if err != nil || id2 <= id1 {
		t.Fatal(id2, err)
	}
	// The state survives a reopen.
	j.Close()
	j = openTest(t, dir, Options{})
	last, ok, err := j.LastWatchPass(ctx)
	if err != nil || !ok || last.ID != id2 || !last.At.Equal(t1) || last.CameOnline != 1 {
		t.Errorf("last pass %+v %v %v", last, ok, err)
	}
	on, err := j.WatchOnline(ctx)
	if err != nil || len(on) != 2 || !on["PC1"].Since.Equal(t0) || !on["PC3"].Since.Equal(t1) || on["PC3"].ResourceID != 3 {
		t.Errorf("online %+v, %v", on, err)
	}
	acts, err := j.WatchActions(ctx, "pc2")
	if err != nil || len(acts) != 1 || acts[0].NoticeNote != "nobody-logged-on" || acts[0].Pass != id1 || !acts[0].At.Equal(t0) {
		t.Errorf("actions of PC2 %+v, %v", acts, err)
	}
	if all, _ := j.WatchActions(ctx, ""); len(all) != 3 {
		t.Errorf("%d actions", len(all))
	}
	if _, err := j.RecordWatchPass(ctx, WatchPass{At: t1}, []WatchAction{{Host: " "}}, nil); err == nil {
		t.Error("an action without a host was recorded")
	}
	// The failed pass left nothing behind.
	if last, _, _ := j.LastWatchPass(ctx); last.ID != id2 {
		t.Errorf("a failed pass was recorded: %+v", last)
	}
}

func TestEscalationsAndCounting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, t.TempDir(), Options{})
	base := time.Date(2026, 12, 10, 10, 0, 0, 0, time.UTC)
	// One notice shown to two users of PC1 counts once; the next day's counts again.
	err := j.RecordNotice(ctx,
		Notice{Host: "PC1", User: `LAB\ann`, Kind: MissingNotice, Update: "5071234", Delivered: true, At: base},
		Notice{Host: "PC1", User: `LAB\bob`, Kind: MissingNotice, Update: "5071234", Delivered: true, At: base},
		Notice{Host: "PC1", User: `LAB\ann`, Kind: MissingNotice, Update: "5071234", Delivered: true, At: base.AddDate(0, 0, 1)},
		Notice{Host: "PC1", User: `LAB\ann`, Kind: ScanNotice, Delivered: true, At: base.Add(2 * time.Hour)},
		Notice{Host: "PC2", Kind: MissingNotice, Update: "5071234", Reason: "nobody-logged-on", At: base.AddDate(0, 0, 2)},
	)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := j.NoticeCount(ctx, "pc1", "5071234", MissingNotice); err != nil || n != 2 {
		t.Errorf("NoticeCount = %d, %v; want 2", n, err)
	}
	tal, err := j.NoticeTallies(ctx, MissingNotice, 2)
	if err != nil || len(tal) != 1 || tal[0].Count != 2 || tal[0].Host != "PC1" {
		t.Errorf("tallies %+v, %v", tal, err)
	}
	last, err := j.LastNotices(ctx)
	if err != nil || len(last) != 1 || !last["PC1"].Equal(base.AddDate(0, 0, 1)) {
		t.Errorf("last notices %v, %v", last, err)
	}

	e := Escalation{Host: "PC1", ResourceID: 16777220, Update: "5071234", ArticleID: "5071234", Title: "2026-12 Cumulative Update\n",
		Notices: 3, ErrorCode: -2145124322, At: base.AddDate(0, 0, 3)}
	if n, err := j.RecordEscalations(ctx, e, Escalation{Host: "PC3", Update: "MS17-010", BulletinID: "MS17-010", Notices: 3, At: base.AddDate(0, 0, 4)}); err != nil || n != 2 {
		t.Fatalf("recorded %d, %v", n, err)
	}
	// Escalating the same machine and update again changes nothing.
	e.Notices = 9
	if n, err := j.RecordEscalations(ctx, e); err != nil || n != 0 {
		t.Errorf("re-escalation recorded %d, %v", n, err)
	}
	if err := j.SetEscalationCollection(ctx, "LAB00042", "pc1"); err != nil {
		t.Fatal(err)
	}
	es, err := j.Escalations(ctx)
	if err != nil || len(es) != 2 {
		t.Fatalf("escalations %+v, %v", es, err)
	}
	if es[0].Host != "PC1" || es[0].Notices != 3 || es[0].CollectionID != "LAB00042" || es[0].ErrorCode != -2145124322 || es[0].Title != "2026-12 Cumulative Update" {
		t.Errorf("PC1 escalation %+v", es[0])
	}
	if es[1].Host != "PC3" || es[1].CollectionID != "" || !es[1].At.Equal(base.AddDate(0, 0, 4)) {
		t.Errorf("PC3 escalation %+v", es[1])
	}
	if _, err := j.RecordEscalations(ctx, Escalation{Host: "PC4"}); err == nil {
		t.Error("an escalation without an update was recorded")
	}
}

// WatchActionsSince returns every host's actions at or after a time, oldest first.
func TestWatchActionsSince(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	j := openTest(t, t.TempDir(), Options{})
	day := time.Date(2026, 12, 9, 0, 0, 0, 0, time.UTC)
	for i, at := range []time.Time{day.Add(-time.Minute), day, day.Add(9 * time.Hour)} {
		host := []string{"PC-1", "PC-2", "PC-1"}[i]
		if _, err := j.RecordWatchPass(ctx, WatchPass{At: at}, []WatchAction{{Host: host, ScanNote: at.Format(time.Kitchen)}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		since time.Time
		want  []string // host@scan note
	}{
		{day.Add(-time.Hour), []string{"PC-1@11:59PM", "PC-2@12:00AM", "PC-1@9:00AM"}},
		{day, []string{"PC-2@12:00AM", "PC-1@9:00AM"}},
		{day.Add(time.Hour), []string{"PC-1@9:00AM"}},
		{day.Add(24 * time.Hour), nil},
	} {
		got, err := j.WatchActionsSince(ctx, tc.since)
		if err != nil {
			t.Fatal(err)
		}
		var hosts []string
		for _, a := range got {
			hosts = append(hosts, a.Host+"@"+a.ScanNote)
		}
		if !slices.Equal(hosts, tc.want) {
			t.Errorf("since %v: %v, want %v", tc.since, hosts, tc.want)
		}
	}
}
