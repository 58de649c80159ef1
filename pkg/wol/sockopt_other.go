//go:build !unix && !windows

package wol

import "errors"

// setBroadcast is not available on this platform.
func setBroadcast(uintptr) error {
	return errors.New("SO_BROADCAST is not supported on this platform")
}
