// Package fleet holds patchnight's domain types that several packages share: how an update
// is named (KB article or security bulletin) and the ConfigMgr state codes that reports and
// steps reason about (reference sections 2 and 3).
package fleet

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/exit"
)

// UpdateRef names one software update the way admins do: by KB article (ArticleID, digits
// only, as v_UpdateInfo stores it) or by security bulletin (BulletinID, MSyy-nnn). Exactly
// one field is set.
type UpdateRef struct {
	ArticleID  string `json:"article_id,omitempty"`
	BulletinID string `json:"bulletin_id,omitempty"`
}

// String is "KB4012212" or "MS17-010".
func (u UpdateRef) String() string {
	if u.BulletinID != "" {
		return u.BulletinID
	}
	return "KB" + u.ArticleID
}

var (
	articleRE  = regexp.MustCompile(`^(?i:KB)?([0-9]{4,9})$`)
	bulletinRE = regexp.MustCompile(`^(?i:MS)([0-9]{2})-([0-9]{3})$`)
)

// ParseUpdateRef accepts KB4012212, kb4012212, 4012212 or MS17-010 (any case) and refuses
// everything else, so that nothing else ever reaches a query.
func ParseUpdateRef(s string) (UpdateRef, error) {
	t := strings.TrimSpace(s)
	if m := articleRE.FindStringSubmatch(t); m != nil {
		return UpdateRef{ArticleID: m[1]}, nil
	}
	if m := bulletinRE.FindStringSubmatch(t); m != nil {
		return UpdateRef{BulletinID: "MS" + m[1] + "-" + m[2]}, nil
	}
	return UpdateRef{}, exit.Usagef("use a KB article like KB5071234 or a bulletin like MS17-010",
		"%q is not an update id", s)
}

// Detection states (topic 500, Status in v_UpdateComplianceStatus).
const (
	StatusUnknown     = 0
	StatusNotRequired = 1
	StatusRequired    = 2
	StatusInstalled   = 3
)

// StatusName names a topic-500 state.
func StatusName(s int) string {
	switch s {
	case StatusUnknown:
		return "unknown"
	case StatusNotRequired:
		return "not required"
	case StatusRequired:
		return "required"
	case StatusInstalled:
		return "installed"
	}
	return "state " + strconv.Itoa(s)
}

// Enforcement states (topic 402, LastEnforcementMessageID) that steps act on.
const (
	EnforcementPendingRestart = 9
	EnforcementInstalled      = 10
	EnforcementFailed         = 11
)

// HResult formats a Windows error code stored as a signed 32-bit integer (as ConfigMgr
// stores LastErrorCode) in the familiar 0x8024401E form; 0 is "".
func HResult(code int64) string {
	if code == 0 {
		return ""
	}
	return fmt.Sprintf("0x%08X", uint32(int32(code)))
}
