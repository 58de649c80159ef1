package main

import (
	"context"

	"github.com/patchnight/patchnight/pkg/journal"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/site"
)

// siteEnv is what the commands that act on a site through the journal share: the site
// database, the journal in the state folder, and (when remote is asked for) the WinRM
// connector and the SMS Provider, if the profile names one.
type siteEnv struct {
	db      *site.DB
	j       *journal.DB
	k       *remote.Connector  // nil without remote
	prov    *provider.Provider // nil without remote or without a provider in the profile
	closers []func()
}

// Close releases everything, last opened first.
func (e *siteEnv) Close() {
	for i := len(e.closers) - 1; i >= 0; i-- {
		e.closers[i]()
	}
	e.closers = nil
}

// openSiteEnv opens the site database and the journal, and with remote the connector and
// the provider. On error nothing is left open.
func (a *App) openSiteEnv(ctx context.Context, withRemote bool) (*siteEnv, error) {
	cfg, err := a.Config()
	if err != nil {
		return nil, err
	}
	e := &siteEnv{}
	if e.db, err = a.Site(ctx); err != nil {
		return nil, err
	}
	e.closers = append(e.closers, func() { e.db.Close() })
	if e.j, err = journal.OpenWith(ctx, cfg.Profile.StateDir, journal.Options{Now: a.Now}); err != nil {
		e.Close()
		return nil, err
	}
	e.closers = append(e.closers, func() { e.j.Close() })
	if !withRemote {
		return e, nil
	}
	if e.k, err = a.Connector(); err != nil {
		e.Close()
		return nil, err
	}
	e.closers = append(e.closers, func() { e.k.Close() })
	if cfg.Profile.Provider != "" && cfg.Profile.SiteCode != "" {
		prov, closeProv, err := a.Provider(ctx)
		if err != nil {
			e.Close()
			return nil, err
		}
		e.closers = append(e.closers, closeProv)
		e.prov = prov
	}
	return e, nil
}
