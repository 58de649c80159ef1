package wol

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/clock"
	"github.com/patchnight/patchnight/pkg/site"
)

// Outcome is what became of one machine.
type Outcome string

// Outcomes, as the confirmation reports them.
const (
	OutcomeWoke          Outcome = "woke"           // online when confirmed
	OutcomeNoAnswer      Outcome = "no answer"      // sent to, still not online
	OutcomeNoMAC         Outcome = "no MAC"         // skipped: no usable MAC
	OutcomeNoRoute       Outcome = "no route"       // skipped: no address, or no relay
	OutcomeAlreadyOnline Outcome = "already online" // online before the wake; not sent to
	OutcomeNotSent       Outcome = "not sent"       // planned, but every send failed
)

// Prober checks which hosts answer now (for --confirm probe): the lead backs it with a
// WinRM probe fan-out. It returns the names that answered.
type Prober interface {
	Probe(ctx context.Context, hosts []string) (online map[string]bool, err error)
}

// ConfirmOptions tune Confirm.
type ConfirmOptions struct {
	Wait   time.Duration    // how long to wait before reading (machines take minutes to boot and report)
	Prober Prober           // nil: read CNIsOnline from the site database (queries/wol_online.sql)
	Sent   *SendReport      // when given, machines whose sends all failed are "not sent"
	OnHost func(HostResult) // called once per machine as it is classified (for the journal)
}

// HostResult is the outcome for one machine.
type HostResult struct {
	ResourceID int64   `json:"resource_id"`
	Name       string  `json:"name"`
	Subnet     string  `json:"subnet"`
	Method     Method  `json:"method,omitempty"`
	Outcome    Outcome `json:"outcome"`
	Reason     string  `json:"reason,omitempty"`
}

// SubnetResult counts outcomes on one subnet.
type SubnetResult struct {
	Subnet        string `json:"subnet"`
	Method        Method `json:"method"`
	Woke          int    `json:"woke"`
	NoAnswer      int    `json:"no_answer"`
	NoMAC         int    `json:"no_mac"`
	NoRoute       int    `json:"no_route"`
	AlreadyOnline int    `json:"already_online"`
	NotSent       int    `json:"not_sent"`
}

func (s *SubnetResult) add(o Outcome) {
	switch o {
	case OutcomeWoke:
		s.Woke++
	case OutcomeNoAnswer:
		s.NoAnswer++
	case OutcomeNoMAC:
		s.NoMAC++
	case OutcomeNoRoute:
		s.NoRoute++
	case OutcomeAlreadyOnline:
		s.AlreadyOnline++
	case OutcomeNotSent:
		s.NotSent++
	}
}

// Confirmation is the result of Confirm: per subnet, in total, and per machine.
type Confirmation struct {
	By      string         `json:"confirmed_by"` // "site" (CNIsOnline) or "probe"
	Waited  time.Duration  `json:"waited_ns"`
	At      time.Time      `json:"at"`
	Subnets []SubnetResult `json:"subnets"`
	Total   SubnetResult   `json:"total"`
	Hosts   []HostResult   `json:"hosts"`
}

// Complete says whether every machine sent to woke.
func (c *Confirmation) Complete() bool {
	return c.Total.NoAnswer == 0 && c.Total.NotSent == 0
}

// Table returns the per-subnet result and a TOTAL line as a header and rows of text.
func (c *Confirmation) Table() (header []string, rows [][]string) {
	header = []string{"SUBNET", "METHOD", "WOKE", "NO ANSWER", "NO MAC", "NO ROUTE", "ALREADY ONLINE", "NOT SENT"}
	line := func(s SubnetResult) []string {
		m := string(s.Method)
		if m == "" {
			m = "-"
		}
		return []string{s.Subnet, m, strconv.Itoa(s.Woke), strconv.Itoa(s.NoAnswer), strconv.Itoa(s.NoMAC),
			strconv.Itoa(s.NoRoute), strconv.Itoa(s.AlreadyOnline), strconv.Itoa(s.NotSent)}
	}
	for _, s := range c.Subnets {
		rows = append(rows, line(s))
	}
	rows = append(rows, line(c.Total))
	return header, rows
}

// Confirm waits o.Wait (or until ctx ends), then reads which of the plan's machines are
// online, in one set-based read of v_CombinedDeviceResources.CNIsOnline (or through
// o.Prober), and classifies every machine of the plan: woke, no answer, no MAC, no route,
// already online, not sent.
func Confirm(ctx context.Context, db *site.DB, p *Plan, o ConfirmOptions) (*Confirmation, error) {
	if o.Prober == nil && db == nil {
		return nil, errors.New("wol: confirmation needs the site database or a prober")
	}
	if err := clock.Sleep(ctx, o.Wait); err != nil {
		return nil, fmt.Errorf("wait before confirming: %w", err)
	}
	c := &Confirmation{By: "site", Waited: o.Wait, At: time.Now().UTC()}

	// Who was planned, and where.
	type planned struct {
		name, subnet string
		method       Method
	}
	sentTo := map[int64]*planned{}
	var ids []int64
	for _, g := range p.Subnets {
		for _, w := range g.Wakes {
			if sentTo[w.ResourceID] == nil {
				sentTo[w.ResourceID] = &planned{name: w.Name, subnet: g.Subnet, method: g.Method}
				ids = append(ids, w.ResourceID)
			}
		}
	}

	var online map[int64]bool
	if o.Prober != nil {
		c.By = "probe"
		names := make([]string, 0, len(ids))
		for _, id := range ids {
			names = append(names, sentTo[id].name)
		}
		up, err := o.Prober.Probe(ctx, names)
		if err != nil {
			return nil, fmt.Errorf("probe woken machines: %w", err)
		}
		online = map[int64]bool{}
		for _, id := range ids {
			online[id] = up[sentTo[id].name] || up[strings.ToUpper(sentTo[id].name)] || up[strings.ToLower(sentTo[id].name)]
		}
	} else {
		var err error
		online, err = readOnline(ctx, db, p.Collection)
		if err != nil {
			return nil, err
		}
	}

	failed := map[int64]string{}
	if o.Sent != nil {
		ok := map[int64]bool{}
		for _, h := range o.Sent.Hosts {
			if h.Error == "" && (h.Packets > 0 || h.Method == MethodSite) {
				ok[h.ResourceID] = true
			} else if failed[h.ResourceID] == "" {
				failed[h.ResourceID] = h.Error
			}
		}
		for id := range ok {
			delete(failed, id)
		}
	}

	bySubnet := map[string]*SubnetResult{}
	add := func(r HostResult) {
		s := bySubnet[r.Subnet]
		if s == nil {
			s = &SubnetResult{Subnet: r.Subnet, Method: r.Method}
			bySubnet[r.Subnet] = s
		}
		if s.Method == "" {
			s.Method = r.Method
		}
		s.add(r.Outcome)
		c.Total.add(r.Outcome)
		c.Hosts = append(c.Hosts, r)
		if o.OnHost != nil {
			o.OnHost(r)
		}
	}
	for _, id := range ids {
		pl := sentTo[id]
		r := HostResult{ResourceID: id, Name: pl.name, Subnet: pl.subnet, Method: pl.method}
		switch msg, bad := failed[id]; {
		case online[id]:
			r.Outcome = OutcomeWoke
		case bad:
			r.Outcome, r.Reason = OutcomeNotSent, msg
		default:
			r.Outcome = OutcomeNoAnswer
		}
		add(r)
	}
	for _, h := range p.Skipped {
		r := HostResult{ResourceID: h.ResourceID, Name: h.Name, Subnet: hostSubnet(h), Outcome: OutcomeNoRoute, Reason: string(h.Skip)}
		if h.Skip.Class() == ClassNoMAC {
			r.Outcome = OutcomeNoMAC
		}
		r.Reason = h.SkipText()
		add(r)
	}
	for _, h := range p.Awake {
		add(HostResult{ResourceID: h.ResourceID, Name: h.Name, Subnet: hostSubnet(h), Outcome: OutcomeAlreadyOnline})
	}
	c.Total.Subnet, c.Total.Method = "TOTAL", ""
	for _, s := range bySubnet {
		c.Subnets = append(c.Subnets, *s)
	}
	slices.SortFunc(c.Subnets, func(a, b SubnetResult) int { return compareSubnets(a.Subnet, b.Subnet) })
	slices.SortFunc(c.Hosts, func(a, b HostResult) int {
		return cmp.Or(compareSubnets(a.Subnet, b.Subnet), cmp.Compare(strings.ToUpper(a.Name), strings.ToUpper(b.Name)))
	})
	return c, nil
}

// SkipText says why a machine was skipped: the reason, then the detail unless the
// detail already starts with it (`malformed MAC: "6C:02:..."`).
func (h Host) SkipText() string {
	switch {
	case h.Detail == "":
		return string(h.Skip)
	case strings.HasPrefix(h.Detail, string(h.Skip)):
		return h.Detail
	}
	return string(h.Skip) + ": " + h.Detail
}

// readOnline runs queries/wol_online.sql once for the whole scope.
func readOnline(ctx context.Context, db *site.DB, collection string) (map[int64]bool, error) {
	online := map[int64]bool{}
	err := db.Each(ctx, "wol_online", site.Params{"collection": collection}, func(r *sql.Rows) error {
		var id int64
		var on site.Flag // CNIsOnline (through CASE); its SQL type is unconfirmed
		if err := r.Scan(&id, &on); err != nil {
			return fmt.Errorf("read wol_online row: %w", err)
		}
		if on {
			online[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read online state: %w", err)
	}
	return online, nil
}
