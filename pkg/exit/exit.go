// Package exit defines patchnight's process exit codes (DESIGN.md) and an error type that
// carries one, so that any layer can say "this is bad input" or "the SQL server is
// unreachable" and the command line turns it into one clear line and the right code.
package exit

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Exit codes, as documented in README.md.
const (
	OK          = 0  // everything worked
	Failed      = 1  // the operation failed
	Partial     = 2  // the run finished but some hosts failed
	Usage       = 64 // bad command line, configuration or input
	Unavailable = 69 // a dependency (SQL server, WinRM endpoint, provider) is unreachable
	NoPerm      = 77 // authentication failed or permission denied
)

// Error is an error with an exit code and, optionally, a hint that tells the user what to do.
type Error struct {
	Code int    // one of the exit codes above
	Msg  string // what is wrong, one line
	Hint string // what to do about it, one line; may be empty
	Err  error  // the underlying cause; may be nil
}

// Error returns the message, the cause and the hint on one line: causes that span lines
// (YAML and driver errors do) are folded, so that a user sees one line.
func (e *Error) Error() string {
	s := e.Msg
	if e.Err != nil {
		cause := causeText(e.Msg, e.Err)
		// One remedy per line: the outer one, which knows more of what was being done.
		var inner *Error
		if e.Hint != "" && errors.As(e.Err, &inner) && inner.Hint != "" {
			cause = strings.Replace(cause, " ("+inner.Hint+")", "", 1)
		}
		s += ": " + oneLine(cause)
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// causeText is the text of a cause after msg: a file-system error about a path that msg
// already names says only what happened to it ("not found"), not the system call and the
// path again in the library's words ("stat /x/lab.db: no such file or directory").
func causeText(msg string, err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path != "" && strings.Contains(msg, pe.Path) && err.Error() == pe.Error() {
		switch {
		case errors.Is(pe.Err, fs.ErrNotExist):
			return "not found"
		case errors.Is(pe.Err, fs.ErrPermission):
			return "permission denied"
		}
		return pe.Err.Error()
	}
	return err.Error()
}

func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with the given code.
func New(code int, hint string, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// Wrap returns an *Error with the given code around err.
func Wrap(code int, err error, hint string, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...), Hint: hint, Err: err}
}

// Usagef is New(Usage, hint, ...).
func Usagef(hint string, format string, args ...any) *Error {
	return New(Usage, hint, format, args...)
}

// Coder is an error that knows its exit code. *Error is one; product packages give their
// own error types an ExitCode method (pkg/remote: a host that refused the credentials is
// NoPerm, one that cannot be reached is Unavailable), so that the code is decided where the
// failure is understood, not by the command that happened to meet it.
type Coder interface {
	error
	ExitCode() int
}

// ExitCode returns e.Code.
func (e *Error) ExitCode() int { return e.Code }

// Code returns the exit code for err: OK for nil, the code of the first Coder in the chain
// (the outermost classification wins), Failed otherwise.
func Code(err error) int {
	if err == nil {
		return OK
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return Failed
}

// Classified reports whether err carries an exit code of its own (a Coder in its chain).
func Classified(err error) bool {
	var c Coder
	return errors.As(err, &c)
}
