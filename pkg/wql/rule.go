package wql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Kind is the shape of a collection query rule that patchnight writes.
type Kind string

// Rule shapes (reference section 4).
const (
	// MissingUpdate: machines for which an update is required (SMS_UpdateComplianceStatus
	// Status = 2), the update named by ArticleID or BulletinID through SMS_SoftwareUpdate
	// (the second join is kept: filtering ArticleID or BulletinID on
	// SMS_UpdateComplianceStatus alone is unconfirmed, reference section 4).
	MissingUpdate Kind = "missing-update"
	// Enforcement: machines with an update in a given enforcement state (topic 402
	// LastEnforcementMessageID), e.g. 9 pending restart, 11 install failed.
	Enforcement Kind = "enforcement"
)

// Enforcement states (topic 402) that the night families use.
const (
	StatePendingRestart = 9
	StateInstallFailed  = 11
)

// ErrUnrecognized: Parse was given WQL that is not one of the shapes Rule builds.
var ErrUnrecognized = errors.New("not a query rule patchnight writes")

// Rule is one collection query rule in structured form. Query writes it as WQL; Parse
// reads such WQL back.
type Rule struct {
	Kind             Kind     `json:"kind"`
	ArticleID        string   `json:"article_id,omitempty"`        // MissingUpdate: digits; exactly one of ArticleID and BulletinID
	BulletinID       string   `json:"bulletin_id,omitempty"`       // MissingUpdate: MSyy-nnn
	EnforcementState int      `json:"enforcement_state,omitempty"` // Enforcement: topic 402 state, 1 to 14
	Include          []string `json:"include,omitempty"`           // members must also be in these collections
	Exclude          []string `json:"exclude,omitempty"`           // members must not be in these collections
}

// The console's boilerplate select list (reference section 4) and the joins of the update
// rules. Identifiers are case-insensitive in WQL; these keep the console's spelling.
const (
	selectSystem = "select SMS_R_SYSTEM.ResourceID,SMS_R_SYSTEM.ResourceType,SMS_R_SYSTEM.Name," +
		"SMS_R_SYSTEM.SMSUniqueIdentifier,SMS_R_SYSTEM.ResourceDomainORWorkgroup,SMS_R_SYSTEM.Client " +
		"from SMS_R_System"
	joinCompliance = " inner join SMS_UpdateComplianceStatus" +
		" on SMS_UpdateComplianceStatus.MachineID = SMS_R_System.ResourceID"
	joinUpdate = " inner join SMS_SoftwareUpdate" +
		" on SMS_SoftwareUpdate.CI_ID = SMS_UpdateComplianceStatus.CI_ID"
	collectionClassPrefix = "SMS_CM_RES_COLL_"
)

// Query writes r as WQL after validating every value in it.
//
//	missing-update: <select> from SMS_R_System inner join SMS_UpdateComplianceStatus on ...
//	                inner join SMS_SoftwareUpdate on ... where SMS_SoftwareUpdate.ArticleID = "4012212"
//	                and SMS_UpdateComplianceStatus.Status = 2
//	enforcement:    <select> from SMS_R_System inner join SMS_UpdateComplianceStatus on ...
//	                where SMS_UpdateComplianceStatus.LastEnforcementMessageID = 9
//	either, then:   and SMS_R_System.ResourceId in (select ResourceID from SMS_CM_RES_COLL_ABC00012)
//	                and SMS_R_System.ResourceId not in (select ResourceID from SMS_CM_RES_COLL_...)
func (r Rule) Query() (string, error) {
	var b strings.Builder
	b.WriteString(selectSystem)
	switch r.Kind {
	case MissingUpdate:
		var cond string
		switch {
		case r.ArticleID != "" && r.BulletinID != "":
			return "", exit.Usagef("name the update by KB article or by bulletin", "a missing-update rule takes one of ArticleID and BulletinID, not both")
		case r.ArticleID != "":
			a, err := ArticleID(r.ArticleID)
			if err != nil {
				return "", err
			}
			cond, _ = Equals("SMS_SoftwareUpdate", "ArticleID", a)
		case r.BulletinID != "":
			bu, err := BulletinID(r.BulletinID)
			if err != nil {
				return "", err
			}
			cond, _ = Equals("SMS_SoftwareUpdate", "BulletinID", bu)
		default:
			return "", exit.Usagef("name the update by KB article or by bulletin", "a missing-update rule needs an ArticleID or a BulletinID")
		}
		b.WriteString(joinCompliance + joinUpdate + " where " + cond + " and SMS_UpdateComplianceStatus.Status = 2")
	case Enforcement:
		if r.EnforcementState < 1 || r.EnforcementState > 14 {
			return "", exit.Usagef("use a topic 402 state from 1 to 14, e.g. 9 pending restart",
				"enforcement state %d is not valid", r.EnforcementState)
		}
		b.WriteString(joinCompliance + " where SMS_UpdateComplianceStatus.LastEnforcementMessageID = " +
			strconv.Itoa(r.EnforcementState))
	default:
		return "", exit.Usagef("use missing-update or enforcement", "rule kind %q is not one patchnight writes", r.Kind)
	}
	for _, set := range []struct {
		ids []string
		op  string
	}{{r.Include, " in "}, {r.Exclude, " not in "}} {
		for _, id := range set.ids {
			v, err := CollectionID(id)
			if err != nil {
				return "", err
			}
			// v is [A-Z0-9]{8}: it can only form the class name, never end the query.
			b.WriteString(" and SMS_R_System.ResourceId" + set.op + "(select ResourceID from " + collectionClassPrefix + v + ")")
		}
	}
	return b.String(), nil
}

// Parse reads WQL written by Query (also after the provider changed its case or spacing)
// back into a Rule. Any other WQL is refused with ErrUnrecognized: Parse never guesses.
func Parse(q string) (Rule, error) {
	toks, err := lex(q)
	if err != nil {
		return Rule{}, fmt.Errorf("%w: %v", ErrUnrecognized, err)
	}
	var r Rule
	for i := 0; i+2 < len(toks); i++ {
		if toks[i].kind != tokIdent || toks[i+1].text != "." || toks[i+2].kind != tokIdent {
			continue
		}
		class, prop := strings.ToLower(toks[i].text), strings.ToLower(toks[i+2].text)
		val, hasVal := tokenAfterEquals(toks, i+3)
		switch {
		case class == "sms_softwareupdate" && prop == "articleid" && hasVal && val.kind == tokString:
			r.Kind, r.ArticleID = MissingUpdate, val.text
		case class == "sms_softwareupdate" && prop == "bulletinid" && hasVal && val.kind == tokString:
			r.Kind, r.BulletinID = MissingUpdate, val.text
		case class == "sms_updatecompliancestatus" && prop == "lastenforcementmessageid" && hasVal && val.kind == tokNumber:
			n, err := strconv.Atoi(val.text)
			if err != nil {
				return Rule{}, fmt.Errorf("%w: enforcement state %q", ErrUnrecognized, val.text)
			}
			r.Kind, r.EnforcementState = Enforcement, n
		}
	}
	for i, t := range toks {
		if t.kind != tokIdent || !strings.HasPrefix(strings.ToUpper(t.text), collectionClassPrefix) {
			continue
		}
		id := strings.ToUpper(t.text[len(collectionClassPrefix):])
		// "... not in ( select ResourceID from SMS_CM_RES_COLL_X )": not sits 6 tokens back.
		if i >= 6 && strings.EqualFold(toks[i-6].text, "not") {
			r.Exclude = append(r.Exclude, id)
		} else {
			r.Include = append(r.Include, id)
		}
	}
	want, err := r.Query()
	if err != nil {
		return Rule{}, fmt.Errorf("%w: %v", ErrUnrecognized, err)
	}
	if !Equivalent(want, q) {
		return Rule{}, ErrUnrecognized
	}
	return r, nil
}

func tokenAfterEquals(toks []token, i int) (token, bool) {
	if i+1 < len(toks) && toks[i].text == "=" {
		return toks[i+1], true
	}
	return token{}, false
}

// Equivalent reports whether two WQL texts are the same query up to whitespace and the
// case of keywords and identifiers (WQL identifiers are case-insensitive). String literals
// compare by value, so "a" and 'a' are equivalent. Text that does not lex is equivalent to
// nothing.
func Equivalent(a, b string) bool {
	ta, err := lex(a)
	if err != nil {
		return false
	}
	tb, err := lex(b)
	if err != nil || len(ta) != len(tb) {
		return false
	}
	for i := range ta {
		x, y := ta[i], tb[i]
		if x.kind != y.kind {
			return false
		}
		switch x.kind {
		case tokIdent:
			if !strings.EqualFold(x.text, y.text) {
				return false
			}
		default:
			if x.text != y.text {
				return false
			}
		}
	}
	return true
}

type tokKind int

const (
	tokIdent tokKind = iota + 1
	tokNumber
	tokString // text holds the decoded value
	tokPunct
)

type token struct {
	kind tokKind
	text string
}

// lex splits WQL into tokens: identifiers (keywords included), unsigned numbers, string
// literals in either quote with backslash escapes (decoded), and the punctuation WQL uses.
func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			j := i + 1
			for j < len(s) && (s[j] == '_' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			out = append(out, token{tokIdent, s[i:j]})
			i = j
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, token{tokNumber, s[i:j]})
			i = j
		case c == '"' || c == '\'':
			var b strings.Builder
			j := i + 1
			closed := false
			for j < len(s) {
				if s[j] == '\\' {
					if j+1 >= len(s) {
						break
					}
					b.WriteByte(s[j+1])
					j += 2
					continue
				}
				if s[j] == c {
					closed = true
					j++
					break
				}
				b.WriteByte(s[j])
				j++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			out = append(out, token{tokString, b.String()})
			i = j
		case c == '<' || c == '>' || c == '!':
			if i+1 < len(s) && (s[i+1] == '=' || c == '<' && s[i+1] == '>') {
				out = append(out, token{tokPunct, s[i : i+2]})
				i += 2
			} else if c == '!' {
				return nil, fmt.Errorf("unexpected ! at offset %d", i)
			} else {
				out = append(out, token{tokPunct, s[i : i+1]})
				i++
			}
		case strings.IndexByte(",.()=*", c) >= 0:
			out = append(out, token{tokPunct, s[i : i+1]})
			i++
		default:
			return nil, fmt.Errorf("unexpected character %q at offset %d", c, i)
		}
	}
	return out, nil
}
