// Package collections holds patchnight's collection definitions: families of device
// collections written as YAML data (the *.yaml files beside this one, embedded into the
// binary), and the loader that parses and validates them.
//
// A family says how its collections are named (a Go text/template restricted to a fixed
// set of placeholders), their comment, limiting collection, refresh schedule, console
// folder, membership rule, and the SQL twin (a query in queries/) that previews the members
// from the site database. Loading refuses anything it does not understand: unknown YAML
// keys, unknown placeholders, template actions other than a plain placeholder, rules and
// variants that do not exist, and names that could exceed ConfigMgr's length limit.
package collections

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"

	"gopkg.in/yaml.v3"

	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/wql"
	"github.com/patchnight/patchnight/queries"
)

//go:embed *.yaml
var files embed.FS

// Rule is what decides a family's members.
type Rule string

// Rules. Query rules are WQL the provider evaluates (built by pkg/wql); direct rules are
// computed by patchnight from its SQL twin and written as direct membership rules; manual
// collections hold direct rules that something else (escalation) adds.
const (
	// MissingUpdate: one collection per update, machines for which the update is required
	// (query rule on SMS_UpdateComplianceStatus Status = 2, by ArticleID or BulletinID).
	MissingUpdate Rule = "missing-update"
	// ScanBehind: clients whose last scan is behind the current catalog, per variant
	// (direct rules computed from v_UpdateScanStatus and vSMS_SUPSyncStatus).
	ScanBehind Rule = "scan-behind"
	// LoggedOn: machines with a user logged on now (direct rules from
	// v_CombinedDeviceResources.CurrentLogonUser).
	LoggedOn Rule = "logged-on"
	// NobodyLoggedOn: machines online with nobody logged on now (direct rules).
	NobodyLoggedOn Rule = "nobody-logged-on"
	// PendingRestart: machines with an update in enforcement state 9 (query rule).
	PendingRestart Rule = "pending-restart"
	// FailedInstall: machines with an update in enforcement state 11 (query rule).
	FailedInstall Rule = "failed-install"
	// NeedsAttention: direct members added by escalation; patchnight only creates it.
	NeedsAttention Rule = "needs-attention"
)

// Membership is how a rule's members are kept.
type Membership string

// Memberships.
const (
	Query  Membership = "query"  // one WQL query rule, evaluated by the provider
	Direct Membership = "direct" // direct rules, computed from the SQL twin by patchnight
	Manual Membership = "manual" // direct rules that patchnight never changes
)

// ruleSpec is what a rule allows.
type ruleSpec struct {
	membership   Membership
	placeholders []string // beyond the common ones
	variants     []string // allowed variant keys; nil = the rule has no variants
}

var rules = map[Rule]ruleSpec{
	MissingUpdate:  {membership: Query, placeholders: []string{"ArticleID", "BulletinID", "Update"}},
	ScanBehind:     {membership: Direct, placeholders: []string{"Variant"}, variants: []string{VariantOneBehind, VariantBehind, VariantNever, VariantFailed}},
	LoggedOn:       {membership: Direct},
	NobodyLoggedOn: {membership: Direct},
	PendingRestart: {membership: Query},
	FailedInstall:  {membership: Query},
	NeedsAttention: {membership: Manual},
}

// Scan-behind variants (reference section 3). A client may be in several.
const (
	VariantOneBehind = "one-behind" // LastScanPackageVersion = SyncCatalogVersion - 1 (assumes versions step by one: unconfirmed; doctor catalog-steps)
	VariantBehind    = "behind"     // LastScanPackageVersion < SyncCatalogVersion
	VariantNever     = "never"      // no scan row for the publishing update source
	VariantFailed    = "failed"     // LastScanState <> 3 or LastErrorCode <> 0
)

// commonPlaceholders may appear in any family's templates.
var commonPlaceholders = []string{"Month", "Family"}

// Refresh types of SMS_Collection.RefreshType (reference section 5).
const (
	RefreshManual     = 1
	RefreshPeriodic   = 2
	RefreshContinuous = 4 // incremental updates
	RefreshBoth       = 6
)

// Family is one family of collections.
type Family struct {
	Name        string    // family name; part of the owner tag, e.g. "missing-update"
	Description string    // one line for listings
	Rule        Rule      // how members are decided
	NameText    string    // name template
	CommentText string    // comment template (the owner tag is appended to it)
	Limit       string    // LimitToCollectionID (default SMS00001, All Systems)
	Refresh     Refresh   // refresh schedule and type
	Folder      string    // console folder (ObjectPath), "/" for the root
	SQL         string    // the SQL twin: a query name in queries/
	Variants    []Variant // scan-behind: the variants to keep, one collection each
	File        string    // the definition file it came from

	name, comment *template.Template
	uses          map[string]bool // placeholders the name template uses
}

// Variant is one variant of a family (scan-behind).
type Variant struct {
	Key   string // one of the Variant* constants
	Label string // what {{.Variant}} renders to
}

// Refresh is a family's refresh settings.
type Refresh struct {
	Type  int // RefreshManual, RefreshPeriodic, RefreshContinuous or RefreshBoth
	Days  int // periodic interval in days (0 when hourly)
	Hours int // periodic interval in hours (0 when daily)
}

// TypeName is the ConfigurationManager cmdlet spelling of the type.
func (r Refresh) TypeName() string {
	switch r.Type {
	case RefreshManual:
		return "Manual"
	case RefreshContinuous:
		return "Continuous"
	case RefreshBoth:
		return "Both"
	}
	return "Periodic"
}

// Periodic reports whether the type has a schedule.
func (r Refresh) Periodic() bool { return r.Type == RefreshPeriodic || r.Type == RefreshBoth }

// String is "periodic every 1d", "manual", ...
func (r Refresh) String() string {
	s := strings.ToLower(r.TypeName())
	switch {
	case r.Periodic() && r.Days > 0:
		s += fmt.Sprintf(" every %dd", r.Days)
	case r.Periodic():
		s += fmt.Sprintf(" every %dh", r.Hours)
	}
	return s
}

// Values fill a family's templates.
type Values struct {
	ArticleID  string // digits, "" for a bulletin-keyed update
	BulletinID string // MSyy-nnn or ""
	Update     string // KB5071234 or MS17-010
	Month      string // patch month, YYYY-MM
	Variant    string // the variant's label
	Family     string // the family name (filled by the renderer)
}

// Membership is how the family's members are kept.
func (f *Family) Membership() Membership { return rules[f.Rule].membership }

// Uses reports whether the name template uses a placeholder ("Month", "Update", ...).
func (f *Family) Uses(placeholder string) bool { return f.uses[placeholder] }

// RenderName renders the collection name and validates it (wql.CollectionName).
func (f *Family) RenderName(v Values) (string, error) {
	s, err := f.render(f.name, v, "name")
	if err != nil {
		return "", err
	}
	if err := wql.CollectionName(s); err != nil {
		return "", fmt.Errorf("family %s: %w", f.Name, err)
	}
	return s, nil
}

// RenderComment renders the comment (without the owner tag).
func (f *Family) RenderComment(v Values) (string, error) {
	return f.render(f.comment, v, "comment")
}

func (f *Family) render(t *template.Template, v Values, what string) (string, error) {
	v.Family = f.Name
	var b bytes.Buffer
	if err := t.Execute(&b, v); err != nil {
		return "", exit.Wrap(exit.Usage, err, "check the "+what+" template in "+f.File, "family %s: %s template", f.Name, what)
	}
	return b.String(), nil
}

// Set is a validated set of families with unique names.
type Set struct {
	Families []*Family // in file order
}

// Get returns the family with that name, or nil.
func (s *Set) Get(name string) *Family {
	for _, f := range s.Families {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Names lists the family names.
func (s *Set) Names() []string {
	out := make([]string, len(s.Families))
	for i, f := range s.Families {
		out[i] = f.Name
	}
	return out
}

// Load parses and validates the embedded definitions.
func Load() (*Set, error) { return LoadFS(files) }

// LoadFS parses and validates every *.yaml file at the top of fsys, in name order.
func LoadFS(fsys fs.FS) (*Set, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("list collection definitions: %w", err)
	}
	slices.Sort(names)
	var all []*Family
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read collection definitions %s: %w", n, err)
		}
		fams, err := Parse(n, b)
		if err != nil {
			return nil, err
		}
		all = append(all, fams...)
	}
	return NewSet(all...)
}

// NewSet checks that family names are unique.
func NewSet(fams ...*Family) (*Set, error) {
	seen := map[string]string{}
	for _, f := range fams {
		if prev, ok := seen[f.Name]; ok {
			return nil, exit.Usagef("give each family its own name", "family %q is defined in %s and again in %s", f.Name, prev, f.File)
		}
		seen[f.Name] = f.File
	}
	return &Set{Families: fams}, nil
}

// The YAML form.
type fileDoc struct {
	Families []familyDoc `yaml:"families"`
}

type familyDoc struct {
	Family      string       `yaml:"family"`
	Description string       `yaml:"description"`
	Rule        string       `yaml:"rule"`
	Name        string       `yaml:"name"`
	Comment     string       `yaml:"comment"`
	Limit       string       `yaml:"limiting_collection"`
	Refresh     refreshDoc   `yaml:"refresh"`
	Folder      string       `yaml:"folder"`
	SQL         string       `yaml:"sql"`
	Variants    []variantDoc `yaml:"variants"`
}

type refreshDoc struct {
	Type  string `yaml:"type"`
	Every string `yaml:"every"`
}

type variantDoc struct {
	Key   string `yaml:"key"`
	Label string `yaml:"label"`
}

var (
	familyNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)
	everyRE      = regexp.MustCompile(`^([1-9][0-9]?)([dh])$`)
)

// Parse reads one definition file. file names the file in messages.
func Parse(file string, data []byte) ([]*Family, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc fileDoc
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, exit.Wrap(exit.Usage, err, "fix the YAML", "collection definitions %s", file)
	}
	var out []*Family
	for i, d := range doc.Families {
		f, err := build(file, d)
		if err != nil {
			return nil, exit.Wrap(exit.Usage, err, "fix the definition in "+file, "collection family %d (%q) in %s", i+1, d.Family, file)
		}
		out = append(out, f)
	}
	return out, nil
}

func build(file string, d familyDoc) (*Family, error) {
	f := &Family{Name: d.Family, Description: strings.TrimSpace(d.Description), Rule: Rule(d.Rule),
		NameText: d.Name, CommentText: d.Comment, Limit: d.Limit, Folder: d.Folder, SQL: d.SQL, File: file}
	if !familyNameRE.MatchString(f.Name) {
		return nil, fmt.Errorf("family name %q must be lower-case letters, digits and -, starting with a letter", f.Name)
	}
	spec, ok := rules[f.Rule]
	if !ok {
		return nil, fmt.Errorf("rule %q is not one of %s", d.Rule, strings.Join(ruleNames(), ", "))
	}
	if f.Limit == "" {
		f.Limit = "SMS00001"
	}
	id, err := wql.CollectionID(f.Limit)
	if err != nil {
		return nil, fmt.Errorf("limiting_collection: %w", err)
	}
	f.Limit = id
	if f.Folder == "" {
		f.Folder = "/"
	}
	if _, err := wql.FolderPath(f.Folder); err != nil {
		return nil, fmt.Errorf("folder: %w", err)
	}
	if f.Refresh, err = parseRefresh(d.Refresh); err != nil {
		return nil, err
	}
	if f.SQL == "" {
		return nil, errors.New("sql: name the SQL twin, a query in queries/")
	}
	if _, err := queries.Get(f.SQL); err != nil {
		return nil, fmt.Errorf("sql: %w", err)
	}
	// Variants.
	switch {
	case spec.variants == nil && len(d.Variants) > 0:
		return nil, fmt.Errorf("rule %s has no variants", f.Rule)
	case spec.variants != nil && len(d.Variants) == 0:
		return nil, fmt.Errorf("rule %s needs variants: some of %s", f.Rule, strings.Join(spec.variants, ", "))
	}
	seen := map[string]bool{}
	for _, v := range d.Variants {
		if !slices.Contains(spec.variants, v.Key) {
			return nil, fmt.Errorf("variant %q is not one of %s", v.Key, strings.Join(spec.variants, ", "))
		}
		if seen[v.Key] {
			return nil, fmt.Errorf("variant %q is listed twice", v.Key)
		}
		seen[v.Key] = true
		if v.Label == "" {
			v.Label = v.Key
		}
		f.Variants = append(f.Variants, Variant(v))
	}
	// Templates.
	allowed := append(slices.Clone(commonPlaceholders), spec.placeholders...)
	if f.name, f.uses, err = parseTemplate("name", d.Name, allowed); err != nil {
		return nil, err
	}
	if f.comment, _, err = parseTemplate("comment", d.Comment, allowed); err != nil {
		return nil, err
	}
	if strings.Contains(strings.ToLower(d.Comment), "[patchnight:") {
		return nil, errors.New("comment: do not write the [patchnight:...] owner tag, patchnight adds it")
	}
	switch {
	case f.Rule == MissingUpdate && !f.uses["Update"] && !f.uses["ArticleID"] && !f.uses["BulletinID"]:
		return nil, errors.New("name: a missing-update name must contain {{.Update}} (or {{.ArticleID}} / {{.BulletinID}}), or every update gets the same name")
	case len(f.Variants) > 1 && !f.uses["Variant"]:
		return nil, errors.New("name: with several variants the name must contain {{.Variant}}")
	}
	if err := f.checkLengths(); err != nil {
		return nil, err
	}
	return f, nil
}

// checkLengths renders the templates with the longest values they can receive and
// validates the result, so that a template that can exceed the limits fails at load.
func (f *Family) checkLengths() error {
	v := Values{ArticleID: "1234567890", BulletinID: "MS17-010", Update: "KB1234567890", Month: "2026-12"}
	for _, x := range f.Variants {
		if len(x.Label) > len(v.Variant) {
			v.Variant = x.Label
		}
	}
	name, err := f.RenderName(v)
	if err != nil {
		return fmt.Errorf("name template yields an invalid name: %w", err)
	}
	_ = name
	c, err := f.RenderComment(v)
	if err != nil {
		return err
	}
	if err := wql.Comment(c + " " + OwnerTag(f.Name, strings.Repeat("k", 40))); err != nil {
		return fmt.Errorf("comment template: %w", err)
	}
	return nil
}

func parseRefresh(d refreshDoc) (Refresh, error) {
	var r Refresh
	switch strings.ToLower(d.Type) {
	case "manual":
		r.Type = RefreshManual
	case "", "periodic":
		r.Type = RefreshPeriodic
	case "continuous":
		r.Type = RefreshContinuous
	case "both":
		r.Type = RefreshBoth
	default:
		return r, fmt.Errorf("refresh.type %q is not manual, periodic, continuous or both", d.Type)
	}
	if !r.Periodic() {
		if d.Every != "" {
			return r, fmt.Errorf("refresh.every applies only to periodic and both, not %s", strings.ToLower(r.TypeName()))
		}
		return r, nil
	}
	every := d.Every
	if every == "" {
		every = "1d"
	}
	m := everyRE.FindStringSubmatch(every)
	if m == nil {
		return r, fmt.Errorf("refresh.every %q is not like 1d or 12h", d.Every)
	}
	n := 0
	fmt.Sscanf(m[1], "%d", &n)
	if m[2] == "d" {
		if n > 31 {
			return r, fmt.Errorf("refresh.every %q: at most 31 days", d.Every)
		}
		r.Days = n
	} else {
		if n > 23 {
			return r, fmt.Errorf("refresh.every %q: at most 23 hours; use days", d.Every)
		}
		r.Hours = n
	}
	return r, nil
}

// parseTemplate parses a template that may contain only text and {{.Placeholder}} actions
// naming one of allowed. It returns the placeholders used.
func parseTemplate(what, text string, allowed []string) (*template.Template, map[string]bool, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil, fmt.Errorf("%s: the template is empty", what)
	}
	t, err := template.New(what).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, nil, fmt.Errorf("%s template: %w", what, err)
	}
	uses := map[string]bool{}
	for _, n := range t.Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
		case *parse.ActionNode:
			p := n.Pipe
			ok := len(p.Decl) == 0 && len(p.Cmds) == 1 && len(p.Cmds[0].Args) == 1
			var field *parse.FieldNode
			if ok {
				field, ok = p.Cmds[0].Args[0].(*parse.FieldNode)
			}
			if !ok || len(field.Ident) != 1 {
				return nil, nil, fmt.Errorf("%s template: %s is not a plain placeholder; use one of %s", what, n.String(), placeholderList(allowed))
			}
			if !slices.Contains(allowed, field.Ident[0]) {
				return nil, nil, fmt.Errorf("%s template: unknown placeholder {{.%s}}; use one of %s", what, field.Ident[0], placeholderList(allowed))
			}
			uses[field.Ident[0]] = true
		default:
			return nil, nil, fmt.Errorf("%s template: %s is not allowed; use text and %s", what, n.String(), placeholderList(allowed))
		}
	}
	return t, uses, nil
}

func placeholderList(allowed []string) string {
	out := make([]string, len(allowed))
	for i, a := range allowed {
		out[i] = "{{." + a + "}}"
	}
	return strings.Join(out, " ")
}

func ruleNames() []string {
	var out []string
	for r := range rules {
		out = append(out, string(r))
	}
	slices.Sort(out)
	return out
}

// Owner tags mark the collections patchnight owns: the comment ends with
// "[patchnight:<family>:<key>]" ("[patchnight:<family>]" for a family with one collection).
// The key names the collection within its family (e.g. "2026-12/KB5071234", "one-behind").

var (
	tagRE = regexp.MustCompile(`\[patchnight:([a-z][a-z0-9-]{0,39})(?::([A-Za-z0-9./-]{1,64}))?\]\s*$`)
	keyRE = regexp.MustCompile(`^[A-Za-z0-9./-]{1,64}$`)
)

// OwnerTag returns the tag for a family and key.
func OwnerTag(family, key string) string {
	if key == "" {
		return "[patchnight:" + family + "]"
	}
	return "[patchnight:" + family + ":" + key + "]"
}

// ValidKey reports whether key can appear in an owner tag.
func ValidKey(key string) bool { return key == "" || keyRE.MatchString(key) }

// ParseOwnerTag finds the owner tag at the end of a collection comment. ok is false when
// the comment carries none: the collection is not patchnight's.
func ParseOwnerTag(comment string) (family, key string, ok bool) {
	m := tagRE.FindStringSubmatch(comment)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}
