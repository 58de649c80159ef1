package session_test

import (
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/patchnight/patchnight/pkg/config"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/remote"
	"github.com/patchnight/patchnight/pkg/session"
)

// counted returns options whose credentials count how often the connector was opened.
func counted(p config.Profile) (session.Options, *atomic.Int32) {
	var n atomic.Int32
	return session.Options{Profile: p, Credentials: func() (remote.Credentials, error) {
		n.Add(1)
		return remote.Credentials{User: `LAB\u`, Password: "p"}, nil
	}}, &n
}

func TestNothingOpensUntilAsked(t *testing.T) {
	t.Parallel()
	var p config.Profile
	p.SQL = "sqlite:" + filepath.Join(t.TempDir(), "missing", "site.db")
	p.StateDir = filepath.Join(t.TempDir(), "state")
	opt, creds := counted(p)
	s := session.New(opt)
	s.Close()
	s.Close() // twice is fine
	if creds.Load() != 0 {
		t.Fatal("the connector was opened without being asked for")
	}
}

func TestSiteAndJournalOpenOnceAndCloseWithTheSession(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lab.db")
	if _, err := lab.Generate(t.Context(), path, lab.Options{Hosts: 5, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	var p config.Profile
	p.SQL, p.StateDir = "sqlite:"+path, filepath.Join(t.TempDir(), "state")
	opt, creds := counted(p)
	s := session.New(opt)
	db, err := s.Site(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Site(t.Context())
	if err != nil || again != db {
		t.Fatalf("second Site: %p, %v; want the same %p", again, err, db)
	}
	j, err := s.Journal(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if j2, _ := s.Journal(t.Context()); j2 != j {
		t.Fatal("second Journal is another journal")
	}
	if creds.Load() != 0 {
		t.Fatal("opening the site and the journal opened the connector")
	}
	s.Close()
	if err := db.Check(t.Context()); err == nil {
		t.Fatal("the site database is still open after Close")
	}
}

func TestProviderNeedsTheProfile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, provider, siteCode, want string
	}{
		{"no provider", "", "ABC", "no SMS Provider configured"},
		{"no site code", "cm01", "", "no site code configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var p config.Profile
			p.Provider, p.SiteCode = tc.provider, tc.siteCode
			opt, creds := counted(p)
			s := session.New(opt)
			defer s.Close()
			if s.HasProvider() {
				t.Fatal("HasProvider with an incomplete profile")
			}
			prov, err := s.OptionalProvider(t.Context())
			if err != nil || prov != nil {
				t.Fatalf("OptionalProvider: %v, %v; want nil, nil", prov, err)
			}
			_, err = s.Provider(t.Context())
			var e *exit.Error
			if !errors.As(err, &e) || exit.Code(err) != exit.Usage || e.Error() == "" || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Provider: %v, want a usage error saying %q", err, tc.want)
			}
			if creds.Load() != 0 {
				t.Fatal("the connector was opened for a provider that is not configured")
			}
		})
	}
}

func TestHostsNameTheSuffixOnce(t *testing.T) {
	t.Parallel()
	for _, suffix := range []string{"contoso.com", ".contoso.com"} {
		var p config.Profile
		p.WinRM.DNSSuffix, p.WinRM.Auth, p.WinRM.HTTPS, p.WinRM.Retries = suffix, "ntlm", true, 2
		opt, creds := counted(p)
		s := session.New(opt)
		h, err := s.Hosts(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if h2, _ := s.Hosts(t.Context()); creds.Load() != 1 || h2 == nil {
			t.Fatalf("connector opened %d times for two Hosts, want once", creds.Load())
		}
		for in, want := range map[string]string{"pc1": "pc1.contoso.com", "pc1.corp.example": "pc1.corp.example"} {
			if got := h.Name(in); got != want {
				t.Errorf("suffix %q: Name(%q) = %q, want %q", suffix, in, got, want)
			}
		}
		if h.Retries(false) != 2 || h.Retries(true) != 0 {
			t.Errorf("Retries: %d, %d; want 2, and 0 for a restart", h.Retries(false), h.Retries(true))
		}
		s.Close()
	}
}
