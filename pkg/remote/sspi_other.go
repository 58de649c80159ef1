//go:build !windows

package remote

import "errors"

// sspiCreds is the Windows SSPI credentials handle; elsewhere there is none.
type sspiCreds struct{}

func acquireSSPI(Credentials) (*sspiCreds, error) {
	return nil, errors.New("negotiate authentication (the Windows current logon, SSPI) is available on Windows only: use ntlm or kerberos here")
}

func (s *sspiCreds) release() error { return nil }

func (s *sspiCreds) mechanism(string) mechanism { return nil }
