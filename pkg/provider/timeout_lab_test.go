package provider_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
)

// A provider call that outlasts the provider's time limit is ended on the provider
// host: the real WinRM client sends Signal (terminate) and Delete for its shell, so the
// script stops changing the site. Against the lab's WS-Man endpoint, which records both.
func TestTimedOutProviderCallIsSignalledAndDeleted(t *testing.T) {
	t.Parallel()
	stopped := make(chan struct{})
	w := lab.NewWSMan(lab.OpHandlerFunc(func(ctx context.Context, _, _ string, _ json.RawMessage) (json.RawMessage, error) {
		<-ctx.Done() // tens of thousands of rules: still writing when the limit passes
		close(stopped)
		return nil, ctx.Err()
	}), lab.WSManOptions{Users: map[string]string{`LAB\patcher`: "Pw-provider-test-1"}, ReceiveTimeout: 20 * time.Millisecond})
	ts := httptest.NewUnstartedServer(w)
	w.Attach(ts.Config)
	ts.Start()
	t.Cleanup(func() { w.Close(); ts.Close() })
	cfg := remote.Config{HTTP: true, Auth: remote.AuthNTLM, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", ts.Listener.Addr().String())
	}}
	k, err := remote.NewConnector(cfg, remote.Credentials{User: `LAB\patcher`, Password: "Pw-provider-test-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	const limit = 300 * time.Millisecond
	c, err := k.ClientTimeout("cm01.lab.test", limit)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := provider.NewWithOptions(c, "LAB", provider.Options{Timeout: limit})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.ApplyCollections(context.Background(), provider.CollectionsRequest{
		Collections: []provider.CollectionChange{{Key: "k", OwnerTag: "[patchnight:kb:1]", CollectionID: "LAB00012", Refresh: true}}})
	var e *remote.Error
	if !errors.As(err, &e) || e.Kind != remote.KindTimeout {
		t.Fatalf("want a timeout, got %v", err)
	}
	sh := w.Shells()
	if len(sh) != 1 {
		t.Fatalf("%d shells", len(sh))
	}
	if r := sh[0]; r.Op != provider.ScriptCollections || len(r.Signals) != 1 || !strings.HasSuffix(r.Signals[0], "/signal/terminate") || !r.Deleted || r.Done {
		t.Fatalf("the timed-out call's shell: %+v", r)
	}
	<-stopped
}
