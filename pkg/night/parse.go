package night

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/patchnight/patchnight/pkg/exit"
)

// Limits on a plan file, so that a mistaken file cannot make a huge timeline or task folder.
const (
	maxPlanBytes       = 1 << 20
	maxSteps           = 200
	maxOccurrences     = 1000
	minRepeat          = 5 * time.Minute
	maxLimit           = 24 * time.Hour
	maxRetriesAllowed  = 10
	maxIDLength        = 40
	maxNameLength      = 256
	maxDescriptionRune = 1000
)

// Problem is one thing wrong with a plan file, with where it is.
type Problem struct {
	File string // file name as given
	Line int    // 1-based line in the file, 0 if unknown
	Step string // step ID, "" for plan-level problems
	Msg  string // what is wrong
	Hint string // what to do; may be empty
}

// String is the problem on one line: `FILE:LINE: step ID: what is wrong (what to do)`.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Step != "" {
		fmt.Fprintf(&b, "step %s: ", p.Step)
	}
	b.WriteString(p.Msg)
	if p.Hint != "" {
		fmt.Fprintf(&b, " (%s)", p.Hint)
	}
	return b.String()
}

// Problems is the list of problems of a plan file, in file order.
type Problems []Problem

// Err is nil without problems; otherwise an exit.Usage error naming the first problem and
// how many more there are.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	p := ps[0]
	hint := p.Hint
	msg := p
	msg.Hint = ""
	text := msg.String()
	if len(ps) > 1 {
		more := fmt.Sprintf("%d more problem(s): patchnight plan validate %s lists them", len(ps)-1, p.File)
		if hint == "" {
			hint = more
		} else {
			hint += "; " + more
		}
	}
	return exit.Usagef(hint, "%s", text)
}

// Load reads and validates a plan file.
func Load(path string) (*Plan, error) {
	b, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, exit.Wrap(exit.Usage, err, "check the path; patchnight plan show --yaml prints the default plan to start from", "plan file %s", path)
		}
		return nil, exit.Wrap(exit.Usage, err, "check the path and its permissions", "plan file %s", path)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPlanBytes+1))
	if err != nil {
		return nil, exit.Wrap(exit.Usage, err, "check the file", "plan file %s", path)
	}
	if len(b) > maxPlanBytes {
		return nil, exit.Usagef("a plan is a short YAML file", "plan file %s is larger than %d bytes", path, maxPlanBytes)
	}
	return b, nil
}

// Parse parses and validates plan text; name is used in messages. The error is an
// exit.Usage error naming the first problem (Check lists all of them).
func Parse(name string, data []byte) (*Plan, error) {
	p, probs := Check(name, data)
	if err := probs.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// CheckFile reads a plan file and returns every problem (for `plan validate FILE`). A file
// that cannot be read is one problem.
func CheckFile(path string) (*Plan, Problems) {
	b, err := readLimited(path)
	if err != nil {
		return nil, Problems{{File: path, Msg: strings.TrimPrefix(err.Error(), "plan file "+path+": ")}}
	}
	return Check(path, b)
}

// Check parses plan text and returns the plan and every problem found, in file order. The
// plan is only meaningful when there are no problems.
func Check(name string, data []byte) (plan *Plan, probs Problems) {
	c := &checker{file: name}
	plan = &Plan{Source: name}
	var doc yaml.Node
	if err := safeUnmarshal(data, &doc); err != nil {
		c.add(yamlLine(err), "", "the file is not valid YAML: "+oneLine(err.Error()), "fix the YAML syntax")
		return plan, c.probs
	}
	if len(doc.Content) == 0 {
		c.add(0, "", "the plan is empty", "a plan has a name and a list of steps; patchnight plan show --yaml prints the default plan")
		return plan, c.probs
	}
	c.plan(doc.Content[0], plan)
	c.semantics(plan)
	sort.SliceStable(c.probs, func(i, j int) bool { return c.probs[i].Line < c.probs[j].Line })
	return plan, c.probs
}

// safeUnmarshal never lets a YAML library panic escape on hostile input.
func safeUnmarshal(data []byte, doc *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML parser gave up: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(doc); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return errors.New("the file holds more than one YAML document (---)")
	}
	return nil
}

func yamlLine(err error) int {
	s := err.Error()
	i := strings.Index(s, "line ")
	if i < 0 {
		return 0
	}
	j := i + 5
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	n, _ := strconv.Atoi(s[i+5 : j])
	return n
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

type checker struct {
	file  string
	probs Problems
	bad   []int // indexes of steps with syntax problems
}

func (c *checker) add(line int, step, msg, hint string) {
	c.probs = append(c.probs, Problem{File: c.file, Line: line, Step: step, Msg: msg, Hint: hint})
}

// field is a key/value pair of a mapping.
type field struct{ key, val *yaml.Node }

// mapping returns the pairs of a mapping node, reporting duplicate and unknown keys.
func (c *checker) mapping(n *yaml.Node, step, what string, known []string) []field {
	if n.Kind != yaml.MappingNode {
		c.add(n.Line, step, fmt.Sprintf("%s must be a mapping of keys and values", what), "")
		return nil
	}
	seen := map[string]bool{}
	var out []field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			c.add(k.Line, step, fmt.Sprintf("%s has a key that is not a name", what), "")
			continue
		}
		if !slices.Contains(known, k.Value) {
			c.add(k.Line, step, fmt.Sprintf("unknown key %q in %s", k.Value, what), "known keys: "+strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			c.add(k.Line, step, fmt.Sprintf("key %q appears twice in %s", k.Value, what), "keep one")
			continue
		}
		seen[k.Value] = true
		out = append(out, field{k, v})
	}
	return out
}

// scalar returns the value of a scalar node, reporting other kinds.
func (c *checker) scalar(f field, step string) (string, bool) {
	if f.val.Kind != yaml.ScalarNode {
		c.add(f.val.Line, step, fmt.Sprintf("%s must be a single value", f.key.Value), "")
		return "", false
	}
	if f.val.Tag == "!!null" {
		return "", true
	}
	return f.val.Value, true
}

func (c *checker) text(f field, step string, max int) (string, bool) {
	s, ok := c.scalar(f, step)
	if !ok {
		return "", false
	}
	if msg := badText(s, max); msg != "" {
		c.add(f.val.Line, step, fmt.Sprintf("%s %s", f.key.Value, msg), "")
		return "", false
	}
	return s, true
}

// badText refuses control characters, invalid UTF-8 and overlong values in free text that
// may reach logs, task descriptions and tables.
func badText(s string, max int) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if utf8.RuneCountInString(s) > max {
		return fmt.Sprintf("is longer than %d characters", max)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "contains a control character or line break"
		}
	}
	return ""
}

func (c *checker) duration(f field, step string) (time.Duration, bool) {
	s, ok := c.scalar(f, step)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		c.add(f.val.Line, step, fmt.Sprintf("%s %q is not a duration", f.key.Value, s), "write it like 45m, 3h or 1h30m")
		return 0, false
	}
	if d <= 0 {
		c.add(f.val.Line, step, fmt.Sprintf("%s %s must be positive", f.key.Value, s), "write it like 45m, 3h or 1h30m")
		return 0, false
	}
	if d%time.Minute != 0 {
		c.add(f.val.Line, step, fmt.Sprintf("%s %s is not a whole number of minutes", f.key.Value, s), "write it like 45m, 3h or 1h30m")
		return 0, false
	}
	return d, true
}

func (c *checker) integer(f field, step string) (int, bool) {
	s, ok := c.scalar(f, step)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		c.add(f.val.Line, step, fmt.Sprintf("%s %q is not a whole number", f.key.Value, s), "")
		return 0, false
	}
	return n, true
}

func (c *checker) boolean(f field, step string) (bool, bool) {
	s, ok := c.scalar(f, step)
	if !ok {
		return false, false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "yes", "on":
		return true, true
	case "false", "no", "off", "":
		return false, true
	}
	c.add(f.val.Line, step, fmt.Sprintf("%s %q is not true or false", f.key.Value, s), "")
	return false, false
}

func (c *checker) when(f field, step string) (When, bool) {
	s, ok := c.scalar(f, step)
	if !ok {
		return When{}, false
	}
	w, err := ParseWhen(s)
	if err != nil {
		c.add(f.val.Line, step, fmt.Sprintf("%s: %v", f.key.Value, err), "")
		return When{}, false
	}
	return w, true
}

var planKeys = []string{"name", "description", "time_zone", "scope", "group", "exclude", "canary", "halt", "restart_cap", "steps", "follow_up"}

var stepKeys = []string{"id", "at", "action", "target", "collection", "description", "repeat",
	"barrier", "max_retries", "restart_prompt", "only_if_nobody_logged_on", "via", "limit"}

func (c *checker) plan(n *yaml.Node, p *Plan) {
	var steps *yaml.Node
	for _, f := range c.mapping(n, "", "the plan", planKeys) {
		switch f.key.Value {
		case "name":
			s, ok := c.scalar(f, "")
			if ok {
				p.Name = s
				if !validName(s) {
					c.add(f.val.Line, "", fmt.Sprintf("plan name %q is not a simple name", s), "use letters, digits, '.', '_' and '-', up to 64 characters")
				}
			}
		case "description":
			p.Description, _ = c.text(f, "", maxDescriptionRune)
		case "time_zone":
			s, ok := c.scalar(f, "")
			if ok {
				p.TimeZone = strings.TrimSpace(s)
				if _, err := LoadLocation(p.TimeZone); err != nil {
					c.add(f.val.Line, "", fmt.Sprintf("time_zone %q is not a known time zone", s), "use an IANA zone such as Europe/London or America/Chicago, or leave it out to use the profile's")
				}
			}
		case "scope":
			p.Scope, _ = c.text(f, "", maxNameLength)
		case "group":
			p.Group, _ = c.text(f, "", maxNameLength)
		case "exclude":
			p.Exclude = c.exclude(f)
		case "canary":
			p.Canary = c.canary(f)
		case "halt":
			p.Halt = c.halt(f)
		case "restart_cap":
			p.RestartCap = c.restartCap(f)
		case "steps":
			steps = f.val
		case "follow_up":
			p.FollowUp = c.followUp(f)
		}
	}
	if n.Kind != yaml.MappingNode {
		return
	}
	if p.Name == "" {
		c.add(n.Line, "", "the plan has no name", "add name: my-plan; the journal keeps runs per plan name")
	}
	if steps == nil || steps.Tag == "!!null" {
		c.add(n.Line, "", "the plan has no steps", "add a steps: list; patchnight plan show --yaml prints the default plan")
		return
	}
	if steps.Kind != yaml.SequenceNode {
		c.add(steps.Line, "", "steps must be a list", "start each step with '- id: ...'")
		return
	}
	if len(steps.Content) > maxSteps {
		c.add(steps.Line, "", fmt.Sprintf("the plan has %d steps, more than %d", len(steps.Content), maxSteps), "")
		return
	}
	if len(steps.Content) == 0 {
		c.add(steps.Line, "", "the plan has no steps", "add at least one step")
	}
	for i, sn := range steps.Content {
		before := len(c.probs)
		p.Steps = append(p.Steps, c.step(sn, i))
		if len(c.probs) > before {
			c.bad = append(c.bad, i)
		}
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// validID: lower-case letters, digits and single hyphens, starting with a letter, ending
// with a letter or digit: safe as a task name, a file name and a command-line argument.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLength || s[0] < 'a' || s[0] > 'z' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9':
		case ch == '-' && s[i-1] != '-':
		default:
			return false
		}
	}
	return true
}

func (c *checker) step(n *yaml.Node, index int) Step {
	st := Step{Line: n.Line, MaxRetries: DefaultMaxRetries}
	name := ""
	// Find the ID first so that every message about this step names it.
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "id" && n.Content[i+1].Kind == yaml.ScalarNode {
				name = n.Content[i+1].Value
			}
		}
	}
	label := name
	if label == "" || !validID(label) {
		label = fmt.Sprintf("#%d", index+1)
	}
	var haveAt, haveAction bool
	for _, f := range c.mapping(n, label, "the step", stepKeys) {
		switch f.key.Value {
		case "id":
			s, ok := c.scalar(f, label)
			if ok {
				st.ID = s
				if !validID(s) {
					c.add(f.val.Line, label, fmt.Sprintf("id %q is not a valid step ID", s), fmt.Sprintf("use lower-case letters, digits and hyphens, starting with a letter, up to %d characters", maxIDLength))
				}
			}
		case "at":
			st.At, haveAt = c.when(f, label)
			if !haveAt {
				haveAt = true // reported already; don't also report it missing
			}
		case "action":
			s, ok := c.scalar(f, label)
			if ok {
				haveAction = true
				st.Action = Action(s)
				if !st.Action.Valid() {
					c.add(f.val.Line, label, fmt.Sprintf("unknown action %q", s), "use one of: "+joinActions())
				}
			}
		case "target":
			s, ok := c.scalar(f, label)
			if ok {
				st.Target = Selector(s)
				if !st.Target.Valid() {
					c.add(f.val.Line, label, fmt.Sprintf("unknown target selector %q", s), "use one of: "+joinSelectors()+"; or give a collection: with the collection's ID or name")
				}
			}
		case "collection":
			s, ok := c.text(f, label, maxNameLength)
			if ok {
				st.Collection = strings.TrimSpace(s)
			}
		case "description":
			st.Description, _ = c.text(f, label, maxDescriptionRune)
		case "repeat":
			st.Repeat = c.repeat(f, label)
		case "barrier":
			st.Barrier = c.barrier(f, label)
		case "max_retries":
			if v, ok := c.integer(f, label); ok {
				st.MaxRetries = v
				if v < 0 || v > maxRetriesAllowed {
					c.add(f.val.Line, label, fmt.Sprintf("max_retries %d is out of range", v), fmt.Sprintf("use 0 to %d", maxRetriesAllowed))
				}
			}
		case "restart_prompt":
			st.RestartPrompt, _ = c.boolean(f, label)
		case "only_if_nobody_logged_on":
			st.OnlyIfNobodyLoggedOn, _ = c.boolean(f, label)
		case "via":
			s, ok := c.scalar(f, label)
			if ok {
				st.Via = Channel(s)
				if st.Via != ChannelWinRM && st.Via != ChannelSite && st.Via != ChannelAuto {
					c.add(f.val.Line, label, fmt.Sprintf("via %q is not a channel", s), "use winrm or site, or leave it out for the runner's choice")
				}
			}
		case "limit":
			if d, ok := c.duration(f, label); ok {
				st.Limit = d
				if d > maxLimit {
					c.add(f.val.Line, label, fmt.Sprintf("limit %s is longer than 24h", d), "")
				}
			}
		}
	}
	if n.Kind != yaml.MappingNode {
		return st
	}
	if name == "" {
		c.add(n.Line, label, "the step has no id", "add id: a-name; it names the scheduled task and `patchnight run ID`")
	}
	if !haveAt {
		c.add(n.Line, label, "the step has no time", "add at: PT 16:30, or PT+1 01:00 for the next day")
	}
	if !haveAction {
		c.add(n.Line, label, "the step has no action", "add action: one of "+joinActions())
	}
	if st.Limit == 0 && st.Action.Valid() {
		st.Limit = st.Action.DefaultLimit()
	}
	return st
}

func (c *checker) repeat(f field, step string) *Repeat {
	r := &Repeat{}
	var haveEvery, haveUntil bool
	for _, g := range c.mapping(f.val, step, "repeat", []string{"every", "until"}) {
		switch g.key.Value {
		case "every":
			s, _ := c.scalar(g, step)
			d, err := time.ParseDuration(strings.TrimSpace(s))
			switch {
			case err != nil:
				c.add(g.val.Line, step, fmt.Sprintf("repeat every %q is not a duration", s), "write it like 30m or 3h")
			case d <= 0:
				c.add(g.val.Line, step, fmt.Sprintf("repeat every %s is not a positive interval", s), "write it like 30m or 3h")
			case d < minRepeat || d%time.Minute != 0:
				c.add(g.val.Line, step, fmt.Sprintf("repeat every %s is too short or not whole minutes", s), "use whole minutes, at least 5m")
			default:
				r.Every = d
			}
			haveEvery = true
		case "until":
			if w, ok := c.when(g, step); ok {
				r.Until = w
			}
			haveUntil = true
		}
	}
	if f.val.Kind != yaml.MappingNode {
		return nil
	}
	if !haveEvery {
		c.add(f.val.Line, step, "repeat has no interval", "add every: 3h")
	}
	if !haveUntil {
		c.add(f.val.Line, step, "the repeat never ends", "add until: PT+1 05:00, the last time an occurrence may start")
	}
	return r
}

func (c *checker) barrier(f field, step string) *Barrier {
	b := &Barrier{}
	var havePercent, haveCondition, haveTimeout bool
	for _, g := range c.mapping(f.val, step, "barrier", []string{"percent", "condition", "timeout"}) {
		switch g.key.Value {
		case "percent":
			s, _ := c.scalar(g, step)
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "%"))
			switch {
			case err != nil:
				c.add(g.val.Line, step, fmt.Sprintf("barrier percent %q is not a number", s), "use 1 to 100")
			case n < 1 || n > 100:
				c.add(g.val.Line, step, fmt.Sprintf("barrier percent %d is outside 1..100", n), "use 1 to 100")
			default:
				b.Percent = n
			}
			havePercent = true
		case "condition":
			s, _ := c.scalar(g, step)
			b.Condition = Condition(s)
			if !slices.Contains(conditionNames(), s) {
				c.add(g.val.Line, step, fmt.Sprintf("unknown barrier condition %q", s), "use one of: "+strings.Join(conditionNames(), ", "))
			}
			haveCondition = true
		case "timeout":
			if d, ok := c.duration(g, step); ok {
				b.Timeout = d
			}
			haveTimeout = true
		}
	}
	if f.val.Kind != yaml.MappingNode {
		return nil
	}
	if !havePercent {
		c.add(f.val.Line, step, "barrier has no percent", "add percent: 90")
	}
	if !haveCondition {
		c.add(f.val.Line, step, "barrier has no condition", "add condition: one of "+strings.Join(conditionNames(), ", "))
	}
	if !haveTimeout {
		c.add(f.val.Line, step, "barrier has no timeout", "add timeout: 45m, the longest the barrier waits")
	}
	return b
}

func conditionNames() []string {
	var s []string
	for _, c := range Conditions() {
		s = append(s, string(c))
	}
	return s
}

func joinActions() string {
	var s []string
	for _, a := range Actions() {
		s = append(s, string(a))
	}
	return strings.Join(s, ", ")
}

func joinSelectors() string {
	var s []string
	for _, v := range Selectors() {
		s = append(s, string(v))
	}
	return strings.Join(s, ", ")
}

// semantics checks what the syntax cannot: targets, option combinations, order, repeats and
// clashes. Steps with syntax problems are left out; the plan-wide checks (IDs, start times)
// run only on a plan without other problems.
func (c *checker) semantics(p *Plan) {
	prev := -1
	for i := range p.Steps {
		if slices.Contains(c.bad, i) {
			continue
		}
		s := &p.Steps[i]
		a := s.Action
		if a.OnHosts() && s.Target == "" && s.Collection == "" {
			c.add(s.Line, s.ID, fmt.Sprintf("action %s needs a target", a), "add target: one of "+joinSelectors()+"; or collection: ID or name")
		}
		if !a.OnHosts() && s.Target != "" {
			c.add(s.Line, s.ID, fmt.Sprintf("action %s takes no target selector", a), "remove target:")
		}
		if a == Report && s.Collection != "" {
			c.add(s.Line, s.ID, "action report takes no collection", "remove collection:")
		}
		if s.Barrier != nil {
			if !a.OnHosts() {
				c.add(s.Line, s.ID, fmt.Sprintf("action %s cannot wait on a barrier", a), "barriers wait on the hosts of scan, wake, install and restart steps")
			} else if s.Barrier.Timeout >= s.Limit {
				c.add(s.Line, s.ID, fmt.Sprintf("barrier timeout %s is not shorter than the step's limit %s", s.Barrier.Timeout, s.Limit), "shorten the timeout or raise limit:")
			}
		}
		if s.RestartPrompt && a != Install {
			c.add(s.Line, s.ID, "restart_prompt applies to action install only", "use action: install with restart_prompt: true")
		}
		if s.OnlyIfNobodyLoggedOn {
			switch {
			case a != Install && a != Restart && a != InstallAndRestart:
				c.add(s.Line, s.ID, "only_if_nobody_logged_on applies to install and restart actions only", "")
			case s.Target == LoggedOn:
				c.add(s.Line, s.ID, "only_if_nobody_logged_on contradicts target logged-on", "remove one of them")
			}
		}
		if s.Via != ChannelAuto {
			switch a {
			case Scan, Wake, Install, Restart, InstallAndRestart:
			default:
				c.add(s.Line, s.ID, fmt.Sprintf("action %s has no channel choice", a), "remove via:")
			}
		}
		if r := s.Repeat; r != nil {
			span := r.Until.sub(s.At)
			switch {
			case span < 0:
				c.add(s.Line, s.ID, fmt.Sprintf("repeat until %s is before the step's time %s", r.Until, s.At), "until is the last time an occurrence may start")
			case span >= 24*time.Hour:
				c.add(s.Line, s.ID, fmt.Sprintf("repeat from %s until %s spans 24 hours or more", s.At, r.Until), "use one step per day")
			case s.Limit > r.Every:
				c.add(s.Line, s.ID, fmt.Sprintf("limit %s is longer than the repeat interval %s, so occurrences would overlap", s.Limit, r.Every), "shorten limit: or lengthen every:")
			}
		}
		if prev >= 0 && s.At.Compare(p.Steps[prev].At) < 0 {
			c.add(s.Line, s.ID, fmt.Sprintf("steps out of order: %s comes before the previous step %s at %s", s.At, p.Steps[prev].ID, p.Steps[prev].At), "list steps in time order")
		}
		prev = i
	}
	if len(c.probs) > 0 {
		return
	}
	// IDs and start times, over every occurrence.
	ids := map[string]*Step{}
	for i := range p.Steps {
		s := &p.Steps[i]
		if prev, ok := ids[s.ID]; ok {
			c.add(s.Line, s.ID, fmt.Sprintf("duplicate step ID %s (also on line %d)", s.ID, prev.Line), "give each step its own id")
			continue
		}
		ids[s.ID] = s
	}
	if len(c.probs) > 0 {
		return
	}
	for _, s := range p.Steps {
		if InFollowUp(s.ID) {
			c.add(s.Line, s.ID, fmt.Sprintf("step ID %s begins with follow-up-, the follow-up's names", s.ID), "rename the step: follow-up-* names are the follow-up's")
		}
	}
	if f := p.FollowUp; f != nil {
		// The night's last run: the last occurrence, which is a repeating step's last
		// repeat (not its first, at).
		last := p.Steps[len(p.Steps)-1]
		lastAt := last.At
		for _, o := range p.Occurrences() {
			if o.At.Compare(lastAt) > 0 {
				last, lastAt = o.Step, o.At
			}
		}
		if fs := p.FollowUpSteps(); len(fs) > 0 {
			first := When{Day: f.From, Minute: fs[0].At.Minute}
			if lastAt.Compare(first) >= 0 {
				c.add(last.Line, last.ID, fmt.Sprintf("step %s at %s is not before the follow-up's first run at %s", last.ID, lastAt, first), "start follow_up after the night's last step")
			}
		}
	}
	occ := p.Occurrences()
	if len(occ) > maxOccurrences {
		c.add(0, "", fmt.Sprintf("the plan has %d occurrences, more than %d", len(occ), maxOccurrences), "repeat less often")
		return
	}
	starts := map[int]Occurrence{}
	for _, o := range occ {
		if o.ID != o.StepID {
			if s, ok := ids[o.ID]; ok {
				c.add(s.Line, s.ID, fmt.Sprintf("step ID %s is also the name of an occurrence of step %s", s.ID, o.StepID), "rename one of them")
			}
		}
		if prev, ok := starts[o.At.minutes()]; ok && prev.StepID != o.StepID {
			c.add(o.Step.Line, o.StepID, fmt.Sprintf("%s starts at %s, the same time as %s", o.ID, o.At, prev.ID), "give each step its own start time: scheduled tasks started together would race for the run lock")
		}
		starts[o.At.minutes()] = o
	}
}
