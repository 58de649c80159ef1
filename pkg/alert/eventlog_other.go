//go:build !windows

package alert

// OpenEventLog returns no sink outside Windows: the event log is a Windows facility.
func OpenEventLog() (EventSink, error) { return nil, nil }
