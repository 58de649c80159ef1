//go:build windows

package alert

import (
	"fmt"

	"golang.org/x/sys/windows/svc/eventlog"
)

// EventSource is the Application event log source patchnight writes under.
const EventSource = "patchnight"

// OpenEventLog opens the Application event log under the source patchnight. It first
// tries to register the source (EventCreate.exe's messages): that needs an administrator
// once and fails harmlessly when the source exists or the account may not write the
// registry; Windows stores the events of an unregistered source all the same, with a note
// that the source's descriptions are missing.
func OpenEventLog() (EventSink, error) {
	_ = eventlog.InstallAsEventCreate(EventSource, eventlog.Error|eventlog.Warning|eventlog.Info)
	l, err := eventlog.Open(EventSource)
	if err != nil {
		return nil, fmt.Errorf("event log: open source %s: %w", EventSource, err)
	}
	return l, nil
}
