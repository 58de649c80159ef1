package remote

import "strings"

// Qualify is the DNS name a machine is reached at: a name without a dot gets the suffix
// (winrm.dns_suffix, written "contoso.com" or ".contoso.com", both the same), a name with
// a dot is left alone, and an empty suffix leaves every name alone.
func Qualify(name, suffix string) string {
	suffix = strings.TrimPrefix(suffix, ".")
	if suffix == "" || name == "" || strings.Contains(name, ".") {
		return name
	}
	return name + "." + suffix
}
