package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/patchnight/patchnight/scripts"
)

// siteDouble is a Runner that answers provider-collections the way the script reports:
// it creates collections (LAB00100, LAB00101, ...), counts the rules, and records every
// call's JSON.
type siteDouble struct {
	mu     sync.Mutex
	next   int
	params [][]byte
	reqs   []CollectionsRequest
	err    func(call int) error
}

func (s *siteDouble) Run(_ context.Context, script string, params any, out any) error {
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	var req CollectionsRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.params = append(s.params, b)
	s.reqs = append(s.reqs, req)
	if s.err != nil {
		if err := s.err(len(s.reqs)); err != nil {
			return err
		}
	}
	res := CollectionsResponse{Collections: []CollectionResult{}, Deleted: []string{}}
	for _, c := range req.Collections {
		r := CollectionResult{Key: c.Key, CollectionID: c.CollectionID, QueryIDs: []uint32{}, Refreshed: c.Refresh}
		if c.CollectionID == "" {
			r.CollectionID, r.Created = fmt.Sprintf("LAB%05X", 0x100+s.next), true
			s.next++
		}
		for i := range c.AddQueryRules {
			r.QueryIDs = append(r.QueryIDs, uint32(i+1))
		}
		r.Added = len(c.AddQueryRules) + len(c.AddDirect)
		r.Removed = len(c.RemoveQueryIDs) + len(c.RemoveDirect)
		r.Moved = c.Folder != ""
		res.Collections = append(res.Collections, r)
	}
	for _, d := range req.Deletes {
		res.Deleted = append(res.Deleted, d.CollectionID)
	}
	rb, _ := json.Marshal(res)
	return json.Unmarshal(rb, out)
}

func bigRequest(adds, removes int) CollectionsRequest {
	newColl := CollectionChange{Key: "[patchnight:kb:5071234]", OwnerTag: "[patchnight:kb:5071234]", Folder: "/Patching/KB", Refresh: true,
		Props:         &CollectionProps{Name: "Missing KB5071234", Comment: "x [patchnight:kb:5071234]", LimitToCollectionID: "SMS00001", RefreshType: 1},
		AddQueryRules: []QueryRule{}}
	for i := range adds {
		newColl.AddDirect = append(newColl.AddDirect, DirectRule{ResourceID: uint32(16777220 + i), RuleName: fmt.Sprintf("WKS-%07d.corp.contoso.com", i)})
	}
	old := CollectionChange{Key: "[patchnight:scan:behind]", OwnerTag: "[patchnight:scan:behind]", CollectionID: "LAB00012", Refresh: true}
	for i := range removes {
		old.RemoveDirect = append(old.RemoveDirect, uint32(16800000+i))
	}
	old.AddDirect = []DirectRule{{ResourceID: 16900000, RuleName: "WKS-NEW"}}
	small := CollectionChange{Key: "[patchnight:kb:5070001]", OwnerTag: "[patchnight:kb:5070001]", CollectionID: "LAB00013", Refresh: true,
		RemoveQueryIDs: []uint32{3}}
	return CollectionsRequest{Collections: []CollectionChange{newColl, old, small},
		Deletes: []CollectionDelete{{CollectionID: "LAB00014", OwnerTag: "[patchnight:kb:5060001]"}}}
}

// Tens of thousands of rule changes go out in several calls, each well under what
// ConvertFrom-Json on Windows PowerShell 5.1 accepts and under the rule bound, and the
// results come back merged per change.
func TestApplyCollectionsSplitsLargeRequests(t *testing.T) {
	t.Parallel()
	d := &siteDouble{}
	p, err := New(d, "LAB")
	if err != nil {
		t.Fatal(err)
	}
	const adds, removes = 50_000, 1_200
	req := bigRequest(adds, removes)
	if b, _ := json.Marshal(req); len(b) <= scripts.MaxParamsChars {
		t.Fatalf("the test request is only %d characters: not over the 5.1 limit", len(b))
	}
	out, err := p.ApplyCollections(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := (adds+removes+3)/MaxRulesPerRequest + 1
	if len(d.reqs) < want {
		t.Errorf("%d calls for %d rule changes, want at least %d", len(d.reqs), adds+removes+3, want)
	}
	parts := map[string][]CollectionChange{}
	for i, b := range d.params {
		if n := scripts.ParamsChars(b); n > MaxRequestChars {
			t.Errorf("call %d: %d characters of JSON, over %d", i+1, n, MaxRequestChars)
		}
		rules := 0
		seen := map[string]bool{}
		for _, c := range d.reqs[i].Collections {
			rules += len(c.RemoveQueryIDs) + len(c.RemoveDirect) + len(c.AddQueryRules) + len(c.AddDirect)
			if seen[c.Key] {
				t.Errorf("call %d holds two parts of %s", i+1, c.Key)
			}
			seen[c.Key] = true
			parts[c.Key] = append(parts[c.Key], c)
		}
		if rules > MaxRulesPerRequest {
			t.Errorf("call %d: %d rule changes, over %d", i+1, rules, MaxRulesPerRequest)
		}
		if len(d.reqs[i].Deletes) > 0 && i != len(d.reqs)-1 {
			t.Errorf("deletes in call %d of %d: they go last", i+1, len(d.reqs))
		}
	}
	for key, ps := range parts {
		for i, c := range ps {
			first, last := i == 0, i == len(ps)-1
			if (c.Props != nil) != (first && key == "[patchnight:kb:5071234]") || (c.Folder != "") != (first && key == "[patchnight:kb:5071234]") {
				t.Errorf("%s part %d: props %v folder %q", key, i+1, c.Props != nil, c.Folder)
			}
			if c.Refresh != last {
				t.Errorf("%s part %d of %d: refresh %v", key, i+1, len(ps), c.Refresh)
			}
			if !first && c.CollectionID == "" {
				t.Errorf("%s part %d names no collection", key, i+1)
			}
			if key == "[patchnight:kb:5071234]" && !first && c.CollectionID != "LAB00100" {
				t.Errorf("continuation of the created collection names %q", c.CollectionID)
			}
		}
	}
	// Removals of a collection come before its additions.
	sawAdd := false
	for _, c := range parts["[patchnight:scan:behind]"] {
		if len(c.RemoveDirect) > 0 && sawAdd {
			t.Errorf("a removal after an addition")
		}
		sawAdd = sawAdd || len(c.AddDirect) > 0
	}
	if len(out.Collections) != 3 || len(out.Deleted) != 1 {
		t.Fatalf("merged result: %+v", out)
	}
	r := out.Collections[0]
	if r.CollectionID != "LAB00100" || !r.Created || !r.Moved || !r.Refreshed || r.Added != adds {
		t.Errorf("created collection: %+v", r)
	}
	if r := out.Collections[1]; r.Removed != removes || r.Added != 1 || !r.Refreshed || r.Created {
		t.Errorf("changed collection: %+v", r)
	}
	if d.next != 1 {
		t.Errorf("%d collections created, want 1", d.next)
	}
}

// A small request stays one call; a failure in a later call says what was applied.
func TestApplyCollectionsBatchFailure(t *testing.T) {
	t.Parallel()
	d := &siteDouble{}
	p, _ := New(d, "LAB")
	if _, err := p.ApplyCollections(context.Background(), bigRequest(10, 10)); err != nil || len(d.reqs) != 1 {
		t.Fatalf("small request: %d calls, %v", len(d.reqs), err)
	}
	d2 := &siteDouble{err: func(call int) error {
		if call == 3 {
			return fmt.Errorf("provider fell over")
		}
		return nil
	}}
	p2, _ := New(d2, "LAB")
	_, err := p2.ApplyCollections(context.Background(), bigRequest(20_000, 0))
	if err == nil || !strings.Contains(err.Error(), "call 3 of") || !strings.Contains(err.Error(), "the 2 before it were applied") {
		t.Errorf("error %v", err)
	}
	if len(d2.reqs) != 3 {
		t.Errorf("%d calls after a failure in the third", len(d2.reqs))
	}
}

// deadlineRunner reports the deadline each call had.
type deadlineRunner struct{ left []time.Duration }

func (r *deadlineRunner) Run(ctx context.Context, _ string, _ any, out any) error {
	dl, ok := ctx.Deadline()
	if !ok {
		r.left = append(r.left, -1)
	} else {
		r.left = append(r.left, time.Until(dl))
	}
	return json.Unmarshal([]byte(`{"operationId": 7, "collections": []}`), out)
}

// Every provider call is bounded by the provider's own time limit (default or given),
// not by the caller's context alone.
func TestProviderCallsHaveTheirOwnTimeLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		opt  Options
		want time.Duration
	}{
		{Options{}, DefaultTimeout},
		{Options{Timeout: 40 * time.Minute}, 40 * time.Minute},
	} {
		r := &deadlineRunner{}
		p, err := NewWithOptions(r, "LAB", tc.opt)
		if err != nil {
			t.Fatal(err)
		}
		if p.Timeout() != tc.want {
			t.Errorf("timeout %s, want %s", p.Timeout(), tc.want)
		}
		if _, err := p.InitiateClientOperation(context.Background(), "LAB00012", OpRestart, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := p.CollectionStatus(context.Background(), []string{"LAB00012"}); err != nil {
			t.Fatal(err)
		}
		for i, left := range r.left {
			if left <= 0 || left > tc.want {
				t.Errorf("call %d: deadline in %s, want within %s", i+1, left, tc.want)
			}
		}
	}
	if _, err := NewWithOptions(&deadlineRunner{}, "LAB", Options{Timeout: -time.Second}); err == nil {
		t.Errorf("a negative timeout was accepted")
	}
}
