package notify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/site"
)

// Hosts turns a machine name into a client runner and a function that releases it (the
// session's Hosts).
type Hosts interface {
	Client(host string) (client.Runner, func(), error)
}

// Notices carries out a night's notice steps (it implements runner.Notifier).
type Notices struct {
	Site        *site.DB
	Journal     *journal.DB
	Hosts       Hosts
	Provider    *provider.Provider
	Settings    *Settings
	Now         func() time.Time
	Concurrency int
	Threshold   int
	Scope       string // collection ID ("" = every client)
	// Skip names the machines (ResourceID) the notice steps leave alone: the runner sets
	// it to the members of the night's excluded collections before each notice step.
	Skip map[int64]bool
}

// SetExcluded sets Skip (the runner calls it before each notice step).
func (n *Notices) SetExcluded(skip map[int64]bool) { n.Skip = skip }

func (n *Notices) env(run journal.RunID, step journal.StepID) Env {
	return Env{Site: n.Site, Journal: n.Journal, Provider: n.Provider, Settings: n.Settings, Now: n.Now,
		Concurrency: n.Concurrency, Run: run, Step: step,
		Connect: n.Hosts.Client}
}

// WatchPass runs one pass of the scan-behind watcher.
func (n *Notices) WatchPass(ctx context.Context, run journal.RunID, step journal.StepID) (string, error) {
	res, err := WatchPass(ctx, n.env(run, step), WatchOptions{Collection: n.Scope, Skip: n.Skip})
	if err != nil {
		return "", err
	}
	told, scanned := 0, 0
	for _, h := range res.Hosts {
		if h.Noticed {
			told++
		}
		if h.Scanned {
			scanned++
		}
	}
	return fmt.Sprintf("%d machines came online behind the catalog: %d told, %d scans started", len(res.Hosts), told, scanned), nil
}

// Missing sends the Thursday notice for the group's updates.
func (n *Notices) Missing(ctx context.Context, run journal.RunID, step journal.StepID, group int64) (string, error) {
	res, err := Missing(ctx, n.env(run, step), MissingOptions{Group: strconv.FormatInt(group, 10), Collection: n.Scope, Skip: n.Skip})
	if err != nil {
		return "", err
	}
	note := fmt.Sprintf("%d machines still missing: %d told, %d escalated, %d not told, %d failed",
		len(res.Hosts), res.Notified, res.Escalated, res.Skipped, res.Failed)
	if res.CollectionError != "" {
		note += "; needs-attention collection not updated: " + res.CollectionError
	}
	return note, nil
}

// Escalated lists escalated machines with their notice counts.
func (n *Notices) Escalated(ctx context.Context) (map[string]int, error) {
	es, err := Escalations(ctx, n.Journal, n.Site, n.Threshold)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, e := range es {
		out[strings.ToUpper(e.Host)] = e.Notices
	}
	return out, nil
}
