package remote

import "context"

// RunText runs a script given as text rather than by name (tests: scripts of any size).
func (c *Client) RunText(ctx context.Context, text string, params, out any) error {
	return c.runScript(ctx, "", text, nil, params, out)
}

// Backoff exposes the retry pause for tests.
func Backoff(o FanOutOptions, n int) interface{ Nanoseconds() int64 } {
	return backoff(o.withDefaults(), n)
}

// Permanent marks an unreachable error as one a retry cannot fix (an unknown host name).
func Permanent(e *Error) *Error {
	e.permanent = true
	return e
}
