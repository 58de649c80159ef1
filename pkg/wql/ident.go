package wql

import (
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Limits patchnight enforces on what it writes. ConfigMgr's own limits are unconfirmed
// (reference section 1.3 and 5 do not state them): these are conservative.
const (
	// MaxNameLength is the longest collection name, in characters (unconfirmed; 127 is a
	// conservative assumption, not a documented ConfigMgr limit).
	MaxNameLength = 127
	// MaxCommentLength is the longest collection comment, in characters (unconfirmed).
	MaxCommentLength = 512
	// MaxFolderDepth and MaxFolderNameLength bound console folder paths (unconfirmed).
	MaxFolderDepth      = 8
	MaxFolderNameLength = 127
)

var (
	articleRE      = regexp.MustCompile(`^[0-9]{1,10}$`)
	bulletinRE     = regexp.MustCompile(`^MS[0-9]{2}-[0-9]{3}$`)
	siteCodeRE     = regexp.MustCompile(`^[A-Z0-9]{3}$`)
	collectionIDRE = regexp.MustCompile(`^(?:[A-Z0-9]{3}[0-9A-F]{5}|SMS[A-Z0-9]{5})$`)
)

// ArticleID validates a KB article number as v_UpdateInfo and SMS_SoftwareUpdate store it:
// 1 to 10 digits, no "KB" prefix. Nothing but digits can reach WQL through it.
func ArticleID(s string) (string, error) {
	if !articleRE.MatchString(s) {
		return "", exit.Usagef("give the KB number as digits, like 5071234", "%q is not a KB article number", short(s))
	}
	return s, nil
}

// BulletinID validates a security bulletin ID, MSyy-nnn (any case in, upper case out).
func BulletinID(s string) (string, error) {
	u := strings.ToUpper(s)
	if !bulletinRE.MatchString(u) {
		return "", exit.Usagef("give a bulletin like MS17-010", "%q is not a security bulletin ID", short(s))
	}
	return u, nil
}

// SiteCode validates a ConfigMgr site code: three letters or digits (upper case out).
func SiteCode(s string) (string, error) {
	u := strings.ToUpper(s)
	if !siteCodeRE.MatchString(u) {
		return "", exit.Usagef("a site code is three letters or digits, like ABC", "%q is not a site code", short(s))
	}
	return u, nil
}

// CollectionID validates a CollectionID: a site code and five hex digits (ABC00012), or a
// built-in SMS collection (SMS00001, SMSDM003). Upper case out. A valid ID contains only
// A-Z and 0-9, so it can also name the class SMS_CM_RES_COLL_<ID>.
func CollectionID(s string) (string, error) {
	u := strings.ToUpper(s)
	if !collectionIDRE.MatchString(u) {
		return "", exit.Usagef("a CollectionID is a site code and five hex digits, like ABC00012, or SMS00001",
			"%q is not a CollectionID", short(s))
	}
	return u, nil
}

// IsBuiltIn reports whether a valid CollectionID names a built-in collection (SMS...),
// which take no membership rules (reference section 5).
func IsBuiltIn(id string) bool { return strings.HasPrefix(strings.ToUpper(id), "SMS") }

// CollectionName validates a collection name: 1 to MaxNameLength characters, no control
// characters, no leading or trailing space, and none of * ? [ ] (the ConfigurationManager
// cmdlets read -Name as a wildcard pattern, so such names could match other collections).
func CollectionName(s string) error {
	hint := "collection names are 1 to 127 characters without control characters or * ? [ ]"
	if err := checkText(s); err != nil {
		return exit.Wrap(exit.Usage, err, hint, "collection name %q is not valid", short(s))
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return exit.Usagef(hint, "collection name is empty")
	case n > MaxNameLength:
		return exit.Usagef("shorten the name template", "collection name %q is %d characters, over the limit of %d",
			short(s), n, MaxNameLength)
	case strings.TrimSpace(s) != s:
		return exit.Usagef(hint, "collection name %q starts or ends with a space", short(s))
	case strings.ContainsAny(s, "*?[]"):
		return exit.Usagef(hint, "collection name %q contains one of * ? [ ]", short(s))
	}
	return nil
}

// Comment validates a collection comment: at most MaxCommentLength characters, no control
// characters.
func Comment(s string) error {
	if err := checkText(s); err != nil {
		return exit.Wrap(exit.Usage, err, "write the comment on one line", "collection comment %q is not valid", short(s))
	}
	if n := utf8.RuneCountInString(s); n > MaxCommentLength {
		return exit.Usagef("shorten the comment template", "collection comment is %d characters, over the limit of %d", n, MaxCommentLength)
	}
	return nil
}

// FolderPath validates a console folder path for device collections, like
// "/patchnight/Missing updates": "/" (the root) or "/"-separated folder names, each 1 to
// MaxFolderNameLength characters without control characters, backslashes, leading or
// trailing spaces. It returns the folder names.
func FolderPath(s string) ([]string, error) {
	hint := `write the folder as /Name/Sub, or / for the root`
	if err := checkText(s); err != nil {
		return nil, exit.Wrap(exit.Usage, err, hint, "console folder %q is not valid", short(s))
	}
	if s == "/" || s == "" {
		return nil, nil
	}
	if !strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") {
		return nil, exit.Usagef(hint, "console folder %q must start with / and not end with /", short(s))
	}
	parts := strings.Split(s[1:], "/")
	if len(parts) > MaxFolderDepth {
		return nil, exit.Usagef(hint, "console folder %q is deeper than %d levels", short(s), MaxFolderDepth)
	}
	for _, p := range parts {
		n := utf8.RuneCountInString(p)
		if n == 0 || n > MaxFolderNameLength || strings.TrimSpace(p) != p || strings.ContainsAny(p, `\*?[]`) {
			return nil, exit.Usagef(hint+"; names are 1 to 127 characters without \\ * ? [ ]",
				"console folder %q has an invalid folder name %q", short(s), short(p))
		}
	}
	return parts, nil
}

// short cuts a value for an error message.
func short(s string) string {
	if utf8.RuneCountInString(s) <= 80 {
		return s
	}
	r := []rune(s)
	return string(r[:77]) + "..."
}
