package labsite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/patchnight/patchnight/pkg/client"
	"github.com/patchnight/patchnight/pkg/lab"
	"github.com/patchnight/patchnight/pkg/lab/labprovider"
	"github.com/patchnight/patchnight/pkg/provider"
	"github.com/patchnight/patchnight/pkg/wol"
)

// opError is a script failure as the endpoint reports it: {"error":{"code":..,"message":..}}.
type opError struct{ code, msg string }

func (e *opError) Error() string     { return e.msg }
func (e *opError) ErrorCode() string { return e.code }

func fail(code, format string, args ...any) error {
	return &opError{code: code, msg: fmt.Sprintf(format, args...)}
}

// simError maps the simulator's sentinels to script failures.
func simError(err error) error {
	switch {
	case errors.Is(err, lab.ErrUnknownHost):
		return fail("unknown-host", "%v", err)
	case errors.Is(err, lab.ErrNoClient):
		return fail("no-client", "the ConfigMgr client is not installed: %v", err)
	case errors.Is(err, lab.ErrOffline):
		return fail("offline", "%v", err)
	}
	return err
}

// handle answers one script for one host: client scripts from the simulator, provider
// scripts from the provider double.
func (s *Site) handle(ctx context.Context, host, op string, params json.RawMessage) (json.RawMessage, error) {
	if strings.EqualFold(host, ProviderHost) {
		return s.handleProvider(ctx, op, params)
	}
	v, err := s.handleClient(ctx, host, op, params)
	if err != nil {
		return nil, simError(err)
	}
	return result(v)
}

func (s *Site) handleClient(ctx context.Context, host, op string, params json.RawMessage) (any, error) {
	switch op {
	case "probe":
		return s.probe(ctx, host, params)
	case "client-trigger-schedule":
		var p struct {
			ScheduleID        string
			SendStateMessages *bool
		}
		if err := json.Unmarshal(params, &p); err != nil {
			return nil, fail("bad-parameter", "parameters: %v", err)
		}
		id, err := client.ParseSchedule(p.ScheduleID)
		if err != nil {
			return nil, fail("bad-parameter", "%v", err)
		}
		sendAfter := p.SendStateMessages != nil && *p.SendStateMessages
		switch {
		case id == client.ScheduleUpdateScan && sendAfter:
			// The script's second trigger, 111, in the same run. The lab's scan ends at
			// once, so its result is among the messages sent.
			_, err = s.Sim.ScanThenSend(ctx, host)
			sendAfter = false
		case id == client.ScheduleUpdateScan:
			_, err = s.Sim.Scan(ctx, host)
		case id == client.ScheduleUpdateEval:
			err = s.Sim.Evaluate(ctx, host)
		case id == client.ScheduleMachinePolicy:
			err = s.Sim.PolicyRetrieval(ctx, host)
		case id == client.ScheduleSendStateMessages:
			_, err = s.Sim.SendStateMessages(ctx, host)
		default:
			_, err = s.Sim.Host(ctx, host)
		}
		if err != nil {
			return nil, err
		}
		out := client.Triggered{ScheduleID: id, StateMessagesSent: p.SendStateMessages != nil && *p.SendStateMessages}
		if sendAfter {
			if _, err := s.Sim.SendStateMessages(ctx, host); err != nil {
				return nil, err
			}
		}
		return out, nil
	case "client-install-updates":
		r, err := s.Sim.Install(ctx, host)
		if err != nil {
			return nil, err
		}
		// InstallUpdates returns as soon as the client has queued the job; progress and
		// failures show later in CCM_SoftwareUpdate (client-update-state).
		return client.Installed{Started: r.Queued, ArticleIDs: nonNil(r.ArticleIDs)}, nil
	case "client-update-state":
		var p struct{ ArticleIDs []string }
		if len(params) > 0 {
			if err := json.Unmarshal(params, &p); err != nil {
				return nil, fail("bad-parameter", "parameters: %v", err)
			}
		}
		only := map[string]bool{}
		for _, a := range p.ArticleIDs {
			k := strings.TrimPrefix(strings.ToUpper(a), "KB")
			if k == "" || strings.Trim(k, "0123456789") != "" || len(k) > 10 {
				return nil, fail("bad-parameter", "ArticleIDs must be KB numbers such as 5034441")
			}
			only[k] = true
		}
		states, err := s.Sim.UpdateStates(ctx, host)
		if err != nil {
			return nil, err
		}
		out := client.UpdateStates{Updates: []client.UpdateState{}}
		for _, u := range states {
			if len(only) > 0 && !only[u.ArticleID] {
				continue
			}
			out.Updates = append(out.Updates, client.UpdateState{ArticleID: u.ArticleID, EvaluationState: u.EvaluationState,
				ErrorCode: int64(uint32(u.ErrorCode)), PercentComplete: u.PercentComplete})
		}
		return out, nil
	case "client-reboot-pending":
		r, err := s.Sim.RebootPending(ctx, host)
		if err != nil {
			return nil, err
		}
		out := client.RebootState{Pending: r.Pending, Hard: r.Hard}
		if !r.Deadline.IsZero() {
			d := r.Deadline
			out.Deadline = &d
		}
		return out, nil
	case "client-restart":
		var p struct{ OnlyIfNobodyLoggedOn bool }
		if len(params) > 0 {
			if err := json.Unmarshal(params, &p); err != nil {
				return nil, fail("bad-parameter", "parameters: %v", err)
			}
		}
		users, err := s.Sim.LoggedOn(ctx, host)
		if err != nil {
			return nil, err
		}
		s.drain(host) // before the restart, so that no request of this shell is refused
		r, err := s.Sim.Restart(ctx, host, p.OnlyIfNobodyLoggedOn)
		if err != nil {
			return nil, err
		}
		if !r.Restarted {
			var names []string
			for _, u := range users {
				names = append(names, u.User)
			}
			return client.Restarted{Reason: "users-logged-on", Users: names}, nil
		}
		return client.Restarted{Restarted: true}, nil
	case "client-repair":
		// SMS_Client.RepairClient is unconfirmed: whether the lab's clients have it is the
		// lab's setting (lab.FaultRates.NoRepairMethod), answered as the script does.
		r, err := s.Sim.Repair(ctx, host)
		if err != nil {
			return nil, err
		}
		if !r.Available {
			return client.Repaired{Reason: "SMS_Client has no RepairClient method"}, nil
		}
		return client.Repaired{Available: true}, nil
	case "client-logged-on":
		sessions, err := s.Sim.LoggedOn(ctx, host)
		if err != nil {
			return nil, err
		}
		out := client.Sessions{Source: "quser", Sessions: []client.Session{}}
		for i, x := range sessions {
			out.Sessions = append(out.Sessions, client.Session{User: x.User, Kind: x.Kind, State: x.State, ID: i + 1, Session: "console"})
			if strings.EqualFold(x.State, "active") {
				out.Active++
			}
		}
		out.Count = len(out.Sessions)
		return out, nil
	case "wol-relay":
		return s.relay(ctx, host, params)
	case "client-notify":
		return s.notify(ctx, host, params)
	}
	return nil, fail("unknown-op", "the lab has no answer for %s", op)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// relay sends the magic packets as a client on the subnet would: into the lab network,
// addressed to the broadcast the request names. The relay must be on that subnet.
func (s *Site) relay(ctx context.Context, host string, params json.RawMessage) (any, error) {
	var req wol.RelayRequest
	if err := json.Unmarshal(params, &req); err != nil {
		return nil, fail("bad-parameter", "parameters: %v", err)
	}
	h, err := s.Sim.Host(ctx, host)
	if err != nil {
		return nil, err
	}
	bcast, err := netip.ParseAddr(req.Broadcast)
	if err != nil || !bcast.Is4() {
		return nil, fail("bad-parameter", "broadcast %q is not an IPv4 address", req.Broadcast)
	}
	if req.Repeat < 1 || req.Repeat > wol.MaxRepeat {
		return nil, fail("bad-parameter", "repeat %d out of range", req.Repeat)
	}
	if !onSubnetOf(h.Address, bcast) {
		return nil, fail("bad-parameter", "%s (%s) is not on the subnet of %s", h.Name, h.Address, bcast)
	}
	sent := 0
	for range req.Repeat {
		for _, m := range req.MACs {
			mac, err := wol.ParseMAC(m)
			if err != nil {
				return nil, fail("bad-parameter", "MAC %q: %v", m, err)
			}
			pkt, err := wol.Packet(mac, nil)
			if err != nil {
				return nil, fail("bad-parameter", "MAC %q: %v", m, err)
			}
			s.Wake.Deliver(pkt, bcast)
			sent++
		}
	}
	return map[string]int{"sent": sent}, nil
}

// onSubnetOf reports whether addr lies in a subnet whose directed broadcast is bcast
// (checked for every prefix length a lab subnet uses).
func onSubnetOf(addr string, bcast netip.Addr) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is4() {
		return false
	}
	for bits := 8; bits <= 30; bits++ {
		p, _ := a.Prefix(bits)
		if b, err := wol.Broadcast(p); err == nil && b == bcast {
			return true
		}
	}
	return false
}

// handleProvider answers the SMS Provider scripts.
func (s *Site) handleProvider(ctx context.Context, op string, params json.RawMessage) (json.RawMessage, error) {
	switch op {
	case provider.ScriptClientOperation:
		var req provider.ClientOperationRequest
		if err := json.Unmarshal(params, &req); err != nil {
			return nil, fail("bad-parameter", "parameters: %v", err)
		}
		id, err := s.clientOperation(ctx, req)
		if err != nil {
			return nil, err
		}
		return result(provider.ClientOperationResponse{OperationID: id})
	case provider.ScriptWake:
		var req provider.WakeRequest
		if err := json.Unmarshal(params, &req); err != nil {
			return nil, fail("bad-parameter", "parameters: %v", err)
		}
		n, err := s.machinesToWakeup(ctx, req)
		if err != nil {
			return nil, err
		}
		return result(provider.WakeResponse{NumSleepers: n})
	case provider.ScriptClientOperationStatus:
		var req struct{ OperationID uint32 }
		if err := json.Unmarshal(params, &req); err != nil {
			return nil, fail("bad-parameter", "parameters: %v", err)
		}
		return result(s.operationStatus(req.OperationID))
	case "provider-doctor":
		v, err := s.providerDoctor(ctx, params)
		if err != nil {
			return nil, err
		}
		return result(v)
	}
	v, err := labprovider.HandleOp(ctx, s.DB, op, params, s.Sim.Now())
	if err != nil {
		var le *labprovider.Error
		if errors.As(err, &le) {
			return nil, fail(le.Code, "%s", le.Message)
		}
		return nil, err
	}
	return result(v)
}

// clientOperation is one client notification the provider double accepted.
type clientOperation struct {
	typ                       uint32
	total, completed, offline int64
	failed                    int64
	at                        time.Time
}

// clientOperation carries out a client notification on the collection's members (or the
// listed ones): online clients act at once, offline ones are counted offline, as the fast
// channel reaches only online clients.
func (s *Site) clientOperation(ctx context.Context, req provider.ClientOperationRequest) (uint32, error) {
	members, err := s.Sim.Members(ctx, req.CollectionID)
	if err != nil {
		if errors.Is(err, lab.ErrUnknownCollection) {
			return 0, fail("not-found", "collection %s does not exist", req.CollectionID)
		}
		return 0, err
	}
	if len(req.ResourceIDs) > 0 {
		want := map[int64]bool{}
		for _, id := range req.ResourceIDs {
			want[int64(id)] = true
		}
		var keep []string
		for _, m := range members {
			if h, err := s.Sim.Host(ctx, m); err == nil && want[h.ResourceID] {
				keep = append(keep, m)
			}
		}
		members = keep
	}
	op := clientOperation{typ: req.Type, total: int64(len(members)), at: s.Sim.Now()}
	for _, m := range members {
		h, err := s.Sim.Host(ctx, m)
		if err != nil {
			op.failed++
			continue
		}
		if req.Type == uint32(provider.OpWake) {
			if h.Online {
				op.completed++
				continue
			}
			// Whether type 150 wakes at all is unconfirmed (reference 7); the product wakes
			// through MachinesToWakeup. The double lets an awake client on the subnet send
			// the packet, as notification wake does.
			woke, err := s.wakeByName(ctx, h)
			if err != nil || !woke {
				op.failed++
				continue
			}
			op.completed++
			continue
		}
		if !h.Online {
			op.offline++
			continue
		}
		switch req.Type {
		case uint32(provider.OpRestart):
			_, err = s.Sim.Restart(ctx, m, false)
		case uint32(provider.OpUpdateEvaluation):
			err = s.Sim.Evaluate(ctx, m)
		case uint32(provider.OpMachinePolicy):
			err = s.Sim.PolicyRetrieval(ctx, m)
		}
		if err != nil {
			op.failed++
		} else {
			op.completed++
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opSeq++
	id := 16777216 + s.opSeq
	s.ops[id] = op
	return id, nil
}

// machinesToWakeup answers SMS_SleepServer.MachinesToWakeup as notification wake works
// (configmgr.md section 7): a sleeping member of the collection (all members, or those
// MachineIDs lists) is a sleeper the site can wake only when an awake client is on its
// subnet, which then sends the magic packet. NumSleepers counts those sleepers; 0 when no
// sleeper has an awake client beside it. Whether a sleeper then powers on is its own NIC's
// business (Wake-on-LAN disabled: it stays off), as on a real site.
func (s *Site) machinesToWakeup(ctx context.Context, req provider.WakeRequest) (uint32, error) {
	if !labCollectionIDRE.MatchString(req.CollectionID) || strings.HasPrefix(req.CollectionID, "SMS") {
		return 0, fail("bad-parameter", "CollectionID is not a collection patchnight may wake (built-in collections are not woken)")
	}
	if !labMachineIDsRE.MatchString(req.MachineIDs) {
		return 0, fail("bad-parameter", "MachineIDs must be decimal ResourceIDs separated by commas")
	}
	members, err := s.Sim.Members(ctx, req.CollectionID)
	if err != nil {
		if errors.Is(err, lab.ErrUnknownCollection) {
			return 0, fail("cim", "collection %s does not exist", req.CollectionID)
		}
		return 0, err
	}
	var want map[int64]bool
	if req.MachineIDs != "" {
		want = map[int64]bool{}
		for _, f := range strings.Split(req.MachineIDs, ",") {
			id, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, fail("bad-parameter", "MachineIDs: %v", err)
			}
			want[id] = true
		}
	}
	relay := map[string]bool{} // subnet -> an awake client is on it
	var n uint32
	for _, m := range members {
		h, err := s.Sim.Host(ctx, m)
		if err != nil {
			return 0, err
		}
		if h.Online || !h.IsClient || (want != nil && !want[h.ResourceID]) || h.Subnet == "" {
			continue
		}
		awake, ok := relay[h.Subnet]
		if !ok {
			if awake, err = s.awakeClientOn(ctx, h.Subnet); err != nil {
				return 0, err
			}
			relay[h.Subnet] = awake
		}
		if !awake {
			continue
		}
		n++
		if _, err := s.wakeByName(ctx, h); err != nil {
			return 0, err
		}
	}
	return n, nil
}

var (
	labCollectionIDRE = regexp.MustCompile(`^[A-Z0-9]{3}[0-9A-F]{5}$`)
	labMachineIDsRE   = regexp.MustCompile(`^(?:[0-9]{1,10}(?:,[0-9]{1,10})*)?$`)
)

// awakeClientOn reports whether a ConfigMgr client on the subnet is online now.
func (s *Site) awakeClientOn(ctx context.Context, subnet string) (bool, error) {
	rows, err := s.DB.QueryContext(ctx, `SELECT Name FROM lab_host WHERE Subnet = ? AND IsClient = 1 ORDER BY ResourceID`, subnet)
	if err != nil {
		return false, fmt.Errorf("lab sleep server: %w", err)
	}
	var names []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return false, fmt.Errorf("lab sleep server: %w", err)
		}
		names = append(names, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("lab sleep server: %w", err)
	}
	for _, name := range names {
		on, err := s.Sim.Online(ctx, name)
		if err != nil {
			return false, err
		}
		if on {
			return true, nil
		}
	}
	return false, nil
}

func (s *Site) wakeByName(ctx context.Context, h lab.HostInfo) (bool, error) {
	var mac string
	err := s.DB.QueryRowContext(ctx, `SELECT MACAddress FROM lab_adapter WHERE ResourceID = ? AND IPEnabled = 1 ORDER BY AdapterIndex`, h.ResourceID).Scan(&mac)
	if err != nil {
		return false, fmt.Errorf("lab wake %s: %w", h.Name, err)
	}
	hw, err := net.ParseMAC(mac)
	if err != nil {
		return false, nil
	}
	return s.Sim.WakeMAC(ctx, hw)
}

func (s *Site) operationStatus(id uint32) provider.OperationStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.ops[id]
	if !ok {
		return provider.OperationStatus{OperationID: id}
	}
	at := op.at
	return provider.OperationStatus{OperationID: id, Found: true, Type: op.typ, State: 1,
		Total: op.total, Completed: op.completed, Failed: op.failed, Offline: op.offline, LastUpdated: &at}
}
