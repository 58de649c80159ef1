//go:build windows

package remote

import (
	"errors"
	"fmt"

	"github.com/alexbrainman/sspi"
	"github.com/alexbrainman/sspi/negotiate"
)

// sspiCreds is an SSPI Negotiate credentials handle: the current logon (a service account
// or gMSA running a scheduled task has no password to give), or explicit credentials.
// One handle serves every host of a Connector.
type sspiCreds struct{ cred *sspi.Credentials }

func acquireSSPI(c Credentials) (*sspiCreds, error) {
	if c.User == "" {
		cred, err := negotiate.AcquireCurrentUserCredentials()
		if err != nil {
			return nil, fmt.Errorf("SSPI credentials of the current logon: %w", err)
		}
		return &sspiCreds{cred: cred}, nil
	}
	domain, user := splitUser(c.User)
	cred, err := negotiate.AcquireUserCredentials(domain, user, c.Password)
	if err != nil {
		return nil, fmt.Errorf("SSPI credentials for %s: %s", c.User, c.scrub(err.Error()))
	}
	return &sspiCreds{cred: cred}, nil
}

func (s *sspiCreds) release() error {
	if s == nil || s.cred == nil {
		return nil
	}
	return s.cred.Release()
}

func (s *sspiCreds) mechanism(spn string) mechanism { return sspiMech{cred: s.cred, spn: spn} }

// sspiMech is HTTP Negotiate through Windows SSPI: Kerberos when the SPN resolves (one
// leg), NTLM otherwise (the SSP runs the legs). Every token goes with the message, since
// it is not known in advance which one completes the exchange. No message sealing: use it
// over HTTPS.
type sspiMech struct {
	cred *sspi.Credentials
	spn  string
}

type sspiCtx struct{ c *negotiate.ClientContext }

func (m sspiMech) begin() (secContext, []byte, bool, error) {
	c, tok, err := negotiate.NewClientContext(m.cred, m.spn)
	if err != nil {
		return nil, nil, false, fmt.Errorf("SSPI Negotiate for %s: %w", m.spn, err)
	}
	return &sspiCtx{c}, tok, true, nil
}

func (c *sspiCtx) step(in []byte) ([]byte, bool, error) {
	done, out, err := c.c.Update(in)
	if err != nil {
		return nil, false, fmt.Errorf("SSPI Negotiate: %w", err)
	}
	if len(out) == 0 {
		if done {
			return nil, false, errors.New("SSPI Negotiate completed but the host still refuses the logon")
		}
		return nil, false, errors.New("SSPI Negotiate produced no token")
	}
	return out, true, nil
}

func (c *sspiCtx) release() { _ = c.c.Release() }
