package night

import (
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/patchnight/patchnight/queries"
)

// Canary makes every restarting step (restart, install-and-restart) act first on a small
// ring of its machines: the members of Collection among the step's targets, or else the
// first PerLocation targets of each location (AD site, else subnet). The step waits until
// the ring's machines are back (online in the site and answering WinRM) or Timeout, and
// goes on with the others only when the ring passed the plan's Halt checks.
type Canary struct {
	Collection  string        `json:"collection,omitempty"` // collection ID or name of the ring; "" = PerLocation
	PerLocation int           `json:"per_location"`         // ring size per location when no collection is named
	Timeout     time.Duration `json:"timeout"`              // longest wait for the ring to come back
}

// Halt says when the runner stops the night's install and restart steps: more than
// NotBackPercent of the machines restarted in the last Window not back, or, in one step,
// more than SameErrorPercent of the installs failed with one error code (at least MinHosts
// machines in either case).
type Halt struct {
	NotBackPercent   int           `json:"not_back_percent"`
	Window           time.Duration `json:"window"`
	SameErrorPercent int           `json:"same_error_percent"`
	MinHosts         int           `json:"min_hosts"`
}

// RestartCap bounds how many machines of one location or subnet restart at once (boot
// storms on shared storage and VDI hosts): a restarting step restarts its machines in
// waves of at most Max per location (or subnet) and waits for each wave to be back.
type RestartCap struct {
	Per string `json:"per"` // "location" or "subnet"
	Max int    `json:"max"`
}

// Defaults of the safety settings, used for keys a plan leaves out.
const (
	DefaultCanaryPerLocation = 2
	DefaultCanaryTimeout     = 30 * time.Minute
	DefaultNotBackPercent    = 20
	DefaultHaltWindow        = time.Hour
	DefaultSameErrorPercent  = 50
	DefaultHaltMinHosts      = 5
)

// Guarded reports whether the plan watches its restarts (a canary, halt rules or a
// restart cap). A plan without any of them runs its steps as before: no canary, no waves,
// no halt.
func (p *Plan) Guarded() bool { return p.Canary != nil || p.Halt != nil || p.RestartCap != nil }

// HaltRules is the plan's halt rules, the defaults filled in (a canary or a cap without a
// halt: key still halts on the defaults).
func (p *Plan) HaltRules() Halt {
	h := Halt{}
	if p.Halt != nil {
		h = *p.Halt
	}
	if h.NotBackPercent == 0 {
		h.NotBackPercent = DefaultNotBackPercent
	}
	if h.Window == 0 {
		h.Window = DefaultHaltWindow
	}
	if h.SameErrorPercent == 0 {
		h.SameErrorPercent = DefaultSameErrorPercent
	}
	if h.MinHosts == 0 {
		h.MinHosts = DefaultHaltMinHosts
	}
	return h
}

// exclude reads the plan's exclude: one collection or a list of them.
func (c *checker) exclude(f field) []string {
	var nodes []*yaml.Node
	switch f.val.Kind {
	case yaml.ScalarNode:
		if f.val.Tag == "!!null" {
			return nil
		}
		nodes = []*yaml.Node{f.val}
	case yaml.SequenceNode:
		nodes = f.val.Content
	default:
		c.add(f.val.Line, "", "exclude must be a collection or a list of collections", "write exclude: [Servers, ABC00042]")
		return nil
	}
	var out []string
	for _, n := range nodes {
		s, ok := c.text(field{f.key, n}, "", maxNameLength)
		if !ok {
			continue
		}
		if s = strings.TrimSpace(s); s == "" {
			c.add(n.Line, "", "exclude names an empty collection", "give a collection ID or name")
			continue
		}
		out = append(out, s)
	}
	// The morning report's per-update query takes a fixed number of excluded collections
	// (the runner counts the profile's too, once resolved).
	distinct := map[string]bool{}
	for _, s := range out {
		distinct[strings.ToUpper(s)] = true
	}
	if len(distinct) > queries.MaxExcluded {
		c.add(f.val.Line, "", fmt.Sprintf("exclude lists %d collections; a night takes at most %d, the profile's exclude included", len(distinct), queries.MaxExcluded),
			"put the machines to leave alone in fewer collections (one collection can include others)")
	}
	return out
}

func (c *checker) percent(g field, what string) (int, bool) {
	n, ok := c.integer(g, "")
	if ok && (n < 1 || n > 100) {
		c.add(g.val.Line, "", fmt.Sprintf("%s %s %d is outside 1..100", what, g.key.Value, n), "use 1 to 100")
		return 0, false
	}
	return n, ok
}

func (c *checker) canary(f field) *Canary {
	k := &Canary{PerLocation: DefaultCanaryPerLocation, Timeout: DefaultCanaryTimeout}
	for _, g := range c.mapping(f.val, "", "canary", []string{"collection", "per_location", "timeout"}) {
		switch g.key.Value {
		case "collection":
			k.Collection, _ = c.text(g, "", maxNameLength)
		case "per_location":
			if n, ok := c.integer(g, ""); ok {
				if n < 1 || n > 1000 {
					c.add(g.val.Line, "", fmt.Sprintf("canary per_location %d is outside 1..1000", n), "")
				}
				k.PerLocation = n
			}
		case "timeout":
			if d, ok := c.duration(g, ""); ok {
				if d > 4*time.Hour {
					c.add(g.val.Line, "", fmt.Sprintf("canary timeout %s is longer than 4h", d), "the ring is meant to come back within minutes")
				}
				k.Timeout = d
			}
		}
	}
	if f.val.Kind != yaml.MappingNode {
		return nil
	}
	return k
}

func (c *checker) halt(f field) *Halt {
	h := &Halt{}
	for _, g := range c.mapping(f.val, "", "halt", []string{"not_back_percent", "window", "same_error_percent", "min_hosts"}) {
		switch g.key.Value {
		case "not_back_percent":
			h.NotBackPercent, _ = c.percent(g, "halt")
		case "same_error_percent":
			h.SameErrorPercent, _ = c.percent(g, "halt")
		case "window":
			h.Window, _ = c.duration(g, "")
		case "min_hosts":
			if n, ok := c.integer(g, ""); ok {
				if n < 1 {
					c.add(g.val.Line, "", fmt.Sprintf("halt min_hosts %d is below 1", n), "")
				}
				h.MinHosts = n
			}
		}
	}
	if f.val.Kind != yaml.MappingNode {
		return nil
	}
	return h
}

func (c *checker) restartCap(f field) *RestartCap {
	r := &RestartCap{Per: "location"}
	haveMax := false
	for _, g := range c.mapping(f.val, "", "restart_cap", []string{"per", "max"}) {
		switch g.key.Value {
		case "per":
			s, _ := c.scalar(g, "")
			if s != "location" && s != "subnet" {
				c.add(g.val.Line, "", fmt.Sprintf("restart_cap per %q is neither location nor subnet", s), "use per: location or per: subnet")
			}
			r.Per = s
		case "max":
			if n, ok := c.integer(g, ""); ok {
				if n < 1 {
					c.add(g.val.Line, "", fmt.Sprintf("restart_cap max %d is below 1", n), "")
				}
				r.Max = n
			}
			haveMax = true
		}
	}
	if f.val.Kind != yaml.MappingNode {
		return nil
	}
	if !haveMax {
		c.add(f.val.Line, "", "restart_cap has no max", "add max: 20, the most machines of one location restarting at once")
	}
	return r
}
