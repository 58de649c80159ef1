package doctor

import (
	"context"
	"fmt"
	"strings"

	"github.com/patchnight/patchnight/pkg/wol"
)

// checkWake: per subnet, the route a wake would take, from the Wake-on-LAN planner
// without sending anything.
func checkWake(ctx context.Context, o Options) []Result {
	if o.WakePlan == nil {
		return []Result{{Check: "wake", Status: Warn, Message: "wake routes not checked", Fix: "configure the wol section of the profile"}}
	}
	p, err := o.WakePlan(ctx)
	if err != nil {
		return []Result{{Check: "wake", Status: Fail, Message: "cannot plan a wake: " + oneLine(err.Error()),
			Fix: "check the wol section of the profile and the site's network inventory"}}
	}
	if len(p.Subnets) == 0 {
		return []Result{{Check: "wake", Status: Warn, Message: "no machine with a usable MAC address in the site's inventory",
			Fix: "check hardware inventory (v_GS_NETWORK_ADAPTER_CONFIGURATION) and network discovery"}}
	}
	var out []Result
	for _, s := range p.Subnets {
		n := len(s.Wakes)
		r := Result{Check: "wake", Subject: s.Subnet, Status: OK}
		switch s.Method {
		case wol.MethodNone:
			r.Status = Fail
			r.Message = "no wake route: " + s.Reason
			r.Fix = "allow directed broadcasts from the site server to this subnet (wol.mode directed or auto), keep one machine awake on it (relay), or wake through the site (wol.mode site)"
		case wol.MethodDirected:
			r.Message = fmt.Sprintf("directed broadcast to %s (%d machines); whether the routers forward it cannot be seen without sending", s.Broadcast, n)
		case wol.MethodRelay:
			r.Message = fmt.Sprintf("relay by an online client on the subnet (%d machines; candidates %s)", n, strings.Join(s.Via, ", "))
		case wol.MethodSite:
			r.Message = fmt.Sprintf("client notification wake (%d machines): needs an awake client on the subnet", n)
		default:
			r.Message = fmt.Sprintf("%s (%d machines): %s", s.Method, n, s.Reason)
		}
		out = append(out, r)
	}
	return out
}

// checkTasks lists the scheduled tasks under \patchnight\ and their next run (Windows).
func checkTasks(ctx context.Context, o Options) []Result {
	if o.Tasks == nil {
		return nil
	}
	tasks, err := o.Tasks(ctx)
	if err != nil {
		return []Result{{Check: "tasks", Status: Warn, Message: "cannot list the scheduled tasks: " + oneLine(err.Error()),
			Fix: "run doctor on the site server as an administrator"}}
	}
	if len(tasks) == 0 {
		return []Result{{Check: "tasks", Subject: `\patchnight\`, Status: Warn, Message: "no scheduled task is registered under \\patchnight\\",
			Fix: "patchnight plan export-tasks --out DIR, then run DIR\\register-tasks.ps1 on the site server"}}
	}
	var out []Result
	for _, t := range tasks {
		r := Result{Check: "tasks", Subject: t.Name, Status: OK, Message: "next run " + t.NextRun + ", " + t.Status}
		if strings.EqualFold(t.Status, "Disabled") || t.NextRun == "" || strings.EqualFold(t.NextRun, "N/A") {
			r.Status = Warn
			r.Fix = "enable the task, or register the tasks again (plan export-tasks)"
		}
		out = append(out, r)
	}
	return out
}
