package remote

import "context"

// RunText runs a script given as text rather than by name (tests: scripts of any size).
func (c *Client) RunText(ctx context.Context, text string, params, out any) error {
	return c.runScript(ctx, "", text, params, out)
}

// UseTestToken makes every client of k authenticate with a fixed one-leg Negotiate token,
// the lab's Kerberos-like flow (the lab cannot check real tickets).
func (k *Connector) UseTestToken(token []byte) { k.mech = tokenMech{token: token} }

// Backoff exposes the retry pause for tests.
func Backoff(o FanOutOptions, n int) interface{ Nanoseconds() int64 } {
	return backoff(o.withDefaults(), n)
}

// Permanent marks an unreachable error as one a retry cannot fix (an unknown host name).
func Permanent(e *Error) *Error {
	e.permanent = true
	return e
}
