package provider

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/wql"
	"github.com/patchnight/patchnight/scripts"
)

// recorder is a Runner that records the JSON each operation would send and answers with a
// fixed JSON reply, as the remote client decodes a script's one JSON object.
type recorder struct {
	calls  []string
	params []string
	reply  string
	err    error
}

func (r *recorder) Run(_ context.Context, script string, params any, out any) error {
	b, err := json.Marshal(params)
	if err != nil {
		return err
	}
	r.calls = append(r.calls, script)
	r.params = append(r.params, string(b))
	if r.err != nil {
		return r.err
	}
	return json.Unmarshal([]byte(r.reply), out)
}

func newTest(t *testing.T, reply string) (*Provider, *recorder) {
	t.Helper()
	r := &recorder{reply: reply}
	p, err := New(r, "lab")
	if err != nil {
		t.Fatal(err)
	}
	return p, r
}

func TestScriptsExist(t *testing.T) {
	t.Parallel()
	for _, s := range []string{ScriptCollections, ScriptCollectionStatus, ScriptClientOperation, ScriptClientOperationStatus} {
		text, err := scripts.Get(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if op, v := scripts.Op(text); op != s || v != 1 {
			t.Errorf("%s: op header %q/%d", s, op, v)
		}
	}
}

func TestNew(t *testing.T) {
	t.Parallel()
	if _, err := New(&recorder{}, "AB'"); exit.Code(err) != exit.Usage {
		t.Fatalf("bad site code: %v", err)
	}
	if _, err := New(nil, "LAB"); err == nil {
		t.Fatal("nil runner accepted")
	}
	p, _ := newTest(t, "{}")
	if p.SiteCode() != "LAB" {
		t.Fatalf("site code %q", p.SiteCode())
	}
}

func validQuery(t *testing.T) string {
	t.Helper()
	q, err := wql.Rule{Kind: wql.Enforcement, EnforcementState: 9}.Query()
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestApplyCollectionsSendsOneCall(t *testing.T) {
	t.Parallel()
	p, r := newTest(t, `{"collections":[{"key":"[patchnight:a]","collectionId":"LAB00100","created":true,"queryIds":[1],"added":1}],"deleted":[]}`)
	req := CollectionsRequest{
		Collections: []CollectionChange{{
			Key: "[patchnight:a]", OwnerTag: "[patchnight:a]", Folder: "/patchnight/Night", Refresh: true,
			Props:         &CollectionProps{Name: "A", Comment: "c [patchnight:a]", LimitToCollectionID: "SMS00001", RefreshType: 2, RefreshHours: 1},
			AddQueryRules: []QueryRule{{RuleName: "patchnight a", QueryExpression: validQuery(t)}},
		}},
	}
	out, err := p.ApplyCollections(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.calls) != 1 || r.calls[0] != ScriptCollections {
		t.Fatalf("calls %v", r.calls)
	}
	if out.Collections[0].CollectionID != "LAB00100" || !out.Collections[0].Created {
		t.Fatalf("response %+v", out)
	}
	var sent map[string]any
	if err := json.Unmarshal([]byte(r.params[0]), &sent); err != nil {
		t.Fatal(err)
	}
	if sent["SiteCode"] != "LAB" || sent["ContainerFilter"] != "ObjectType = 5000" {
		t.Fatalf("sent %s", r.params[0])
	}
	// Lists reach the script as [] and never as null.
	for _, k := range []string{`"Deletes":[]`, `"RemoveQueryIDs":[]`, `"RemoveDirect":[]`, `"AddDirect":[]`} {
		if !strings.Contains(r.params[0], k) {
			t.Errorf("sent JSON lacks %s: %s", k, r.params[0])
		}
	}
}

func TestApplyCollectionsRefuses(t *testing.T) {
	t.Parallel()
	props := func() *CollectionProps {
		return &CollectionProps{Name: "A", Comment: "c [patchnight:a]", LimitToCollectionID: "SMS00001", RefreshType: 1}
	}
	for _, tc := range []struct {
		name string
		req  CollectionsRequest
	}{
		{"no owner tag", CollectionsRequest{Collections: []CollectionChange{{Key: "k", Props: props()}}}},
		{"create without props", CollectionsRequest{Collections: []CollectionChange{{Key: "k", OwnerTag: "[patchnight:a]"}}}},
		{"bad collection id", CollectionsRequest{Collections: []CollectionChange{{Key: "k", OwnerTag: "[patchnight:a]", CollectionID: "LAB0010'"}}}},
		{"built-in collection", CollectionsRequest{Collections: []CollectionChange{{Key: "k", OwnerTag: "[patchnight:a]", CollectionID: "SMS00001"}}}},
		{"comment without the tag", CollectionsRequest{Collections: []CollectionChange{{Key: "k", OwnerTag: "[patchnight:b]", Props: props()}}}},
		{"refresh without interval", CollectionsRequest{Collections: []CollectionChange{{Key: "k", OwnerTag: "[patchnight:a]",
			Props: &CollectionProps{Name: "A", Comment: "c [patchnight:a]", LimitToCollectionID: "SMS00001", RefreshType: 2}}}}},
		{"query not built by wql", CollectionsRequest{Collections: []CollectionChange{{Key: "k", OwnerTag: "[patchnight:a]", CollectionID: "LAB00100",
			AddQueryRules: []QueryRule{{RuleName: "r", QueryExpression: `select * from SMS_R_System where Name = "x" or 1=1`}}}}}},
		{"resource 0", CollectionsRequest{Collections: []CollectionChange{{Key: "k", OwnerTag: "[patchnight:a]", CollectionID: "LAB00100",
			AddDirect: []DirectRule{{ResourceID: 0, RuleName: "x"}}}}}},
		{"bad folder", CollectionsRequest{Collections: []CollectionChange{{Key: "k", OwnerTag: "[patchnight:a]", CollectionID: "LAB00100", Folder: "no-slash"}}}},
		{"twice", CollectionsRequest{Collections: []CollectionChange{{Key: "k", OwnerTag: "[patchnight:a]", CollectionID: "LAB00100"},
			{Key: "k", OwnerTag: "[patchnight:a]", CollectionID: "LAB00101"}}}},
		{"delete built-in", CollectionsRequest{Deletes: []CollectionDelete{{CollectionID: "SMS00001", OwnerTag: "[patchnight:a]"}}}},
		{"delete without tag", CollectionsRequest{Deletes: []CollectionDelete{{CollectionID: "LAB00100"}}}},
	} {
		p, r := newTest(t, "{}")
		if _, err := p.ApplyCollections(context.Background(), tc.req); exit.Code(err) != exit.Usage {
			t.Errorf("%s: %v", tc.name, err)
		}
		if len(r.calls) != 0 {
			t.Errorf("%s: the provider was called", tc.name)
		}
	}
}

func TestCollectionStatus(t *testing.T) {
	t.Parallel()
	p, r := newTest(t, `{"collections":[{"collectionId":"LAB00100","found":true,"currentStatus":1,"lastRefreshTime":"2026-12-08T22:05:00Z","memberCount":12}]}`)
	st, err := p.CollectionStatus(context.Background(), []string{"lab00100"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].MemberCount != 12 || st[0].LastRefreshTime == nil || st[0].LastRefreshTime.Hour() != 22 {
		t.Fatalf("status %+v", st)
	}
	if r.params[0] != `{"SiteCode":"LAB","CollectionIDs":["LAB00100"]}` {
		t.Fatalf("sent %s", r.params[0])
	}
	if _, err := p.CollectionStatus(context.Background(), []string{"x"}); exit.Code(err) != exit.Usage {
		t.Fatalf("bad id: %v", err)
	}
	if st, err := p.CollectionStatus(context.Background(), nil); err != nil || st != nil || len(r.calls) != 1 {
		t.Fatalf("no ids: %v %v, %d calls", st, err, len(r.calls))
	}
}

func TestInitiateClientOperation(t *testing.T) {
	t.Parallel()
	p, r := newTest(t, `{"operationId":16777300}`)
	id, err := p.InitiateClientOperation(context.Background(), "lab00100", OpUpdateEvaluation, []int64{16777220, 16777221})
	if err != nil || id != 16777300 {
		t.Fatalf("id %d, %v", id, err)
	}
	if r.params[0] != `{"SiteCode":"LAB","Type":14,"CollectionID":"LAB00100","ResourceIDs":[16777220,16777221]}` {
		t.Fatalf("sent %s", r.params[0])
	}
	if _, err := p.InitiateClientOperation(context.Background(), "LAB00100", OpRestart, nil); err != nil {
		t.Fatal(err)
	}
	if r.params[1] != `{"SiteCode":"LAB","Type":17,"CollectionID":"LAB00100","ResourceIDs":[]}` {
		t.Fatalf("sent %s", r.params[1])
	}
	for _, tc := range []struct {
		name string
		coll string
		typ  ClientOperationType
		ids  []int64
	}{
		{"unknown type", "LAB00100", 135, nil},
		{"bad collection", "LAB00100; x", OpRestart, nil},
		{"wake on a built-in", "SMS00001", OpWake, nil},
		{"negative resource", "LAB00100", OpRestart, []int64{-1}},
		{"resource too large", "LAB00100", OpRestart, []int64{1 << 33}},
	} {
		if _, err := p.InitiateClientOperation(context.Background(), tc.coll, tc.typ, tc.ids); exit.Code(err) != exit.Usage {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if len(r.calls) != 2 {
		t.Fatalf("refused operations reached the provider: %v", r.calls)
	}
	bad := &recorder{reply: `{"operationId":0}`}
	pb, _ := New(bad, "LAB")
	if _, err := pb.InitiateClientOperation(context.Background(), "LAB00100", OpMachinePolicy, nil); err == nil {
		t.Fatal("operation ID 0 accepted")
	}
}

func TestClientOperationStatus(t *testing.T) {
	t.Parallel()
	p, r := newTest(t, `{"operationId":7,"found":true,"type":14,"state":1,"totalClients":10,"completedClients":8,"offlineClients":2}`)
	st, err := p.ClientOperationStatus(context.Background(), 7)
	if err != nil || st.Total != 10 || st.Completed != 8 || st.Offline != 2 || !st.Found {
		t.Fatalf("status %+v, %v", st, err)
	}
	if r.params[0] != `{"SiteCode":"LAB","OperationID":7,"Filter":"ID = 7"}` {
		t.Fatalf("sent %s", r.params[0])
	}
	if _, err := p.ClientOperationStatus(context.Background(), 0); exit.Code(err) != exit.Usage {
		t.Fatalf("operation 0: %v", err)
	}
}

func TestRunnerErrorsAreWrapped(t *testing.T) {
	t.Parallel()
	cause := errors.New("WinRM: 401")
	r := &recorder{err: cause}
	p, _ := New(r, "LAB")
	_, err := p.CollectionStatus(context.Background(), []string{"LAB00100"})
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "site LAB") {
		t.Fatalf("error %v", err)
	}
	_, err = p.InitiateClientOperation(context.Background(), "LAB00100", OpWake, nil)
	if !errors.Is(err, cause) || !strings.Contains(err.Error(), "wake up") {
		t.Fatalf("error %v", err)
	}
}

type scriptErr struct{ code string }

func (e *scriptErr) Error() string  { return "pc1: provider-collections: " + e.code }
func (e *scriptErr) Reason() string { return "script:" + e.code }

func TestScriptRefusalsGetExitCodes(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{"not-owned": exit.Usage, "bad-query": exit.Usage, "access-denied": exit.NoPerm,
		"no-provider": exit.Unavailable, "cim": exit.Failed} {
		cause := &scriptErr{code}
		p, _ := New(&recorder{err: cause}, "LAB")
		_, err := p.ApplyCollections(context.Background(), CollectionsRequest{})
		if exit.Code(err) != want || !errors.Is(err, cause) || !strings.Contains(err.Error(), code) {
			t.Errorf("%s: %v (code %d), want code %d", code, err, exit.Code(err), want)
		}
	}
}

// transportErr is a runner's failure to reach or log on to the provider host, of a runner
// that does not classify its errors itself.
type transportErr struct{ kind string }

func (e *transportErr) Error() string  { return "smsprov: " + e.kind }
func (e *transportErr) Reason() string { return e.kind }

// TestTransportFailuresGetExitCodes: a provider host that cannot be reached is an
// unreachable dependency (69), one that refuses the login is an authentication failure
// (77), both from a runner that classifies nothing and from pkg/remote, whose own remedy is
// then the only one in the message.
func TestTransportFailuresGetExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		cause error
		want  int
	}{
		{"unreachable", &transportErr{"unreachable"}, exit.Unavailable},
		{"auth", &transportErr{"auth"}, exit.NoPerm},
		{"timeout", &transportErr{"timeout"}, exit.Failed},
		{"remote refused", &remote.Error{Host: "smsprov", Kind: remote.KindUnreachable, Message: "connection refused on port 5986", Hint: "check WinRM"}, exit.Unavailable},
		{"remote login refused", &remote.Error{Host: "smsprov", Kind: remote.KindAuth, Message: "authentication failed for smsprov as LAB\\svc", Hint: "check the user name"}, exit.NoPerm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p, _ := New(&recorder{err: tc.cause}, "LAB")
			_, err := p.CollectionStatus(context.Background(), []string{"LAB00100"})
			if exit.Code(err) != tc.want || !errors.Is(err, tc.cause) {
				t.Errorf("%v (code %d), want code %d", err, exit.Code(err), tc.want)
			}
			if n := strings.Count(err.Error(), "("); n > 1 {
				t.Errorf("%q gives %d remedies, want at most one", err, n)
			}
		})
	}
}
