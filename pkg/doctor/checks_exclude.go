package doctor

import (
	"context"
	"fmt"
)

// checkExclusions shows the collections a night leaves alone (the plan's and the
// profile's exclude, issue 16): each must resolve on the site, or the night refuses to
// start; its member count says how many machines no step will touch.
func checkExclusions(ctx context.Context, o Options) []Result {
	if len(o.Exclude) == 0 {
		return nil
	}
	if o.ResolveCollection == nil {
		return []Result{{Check: "exclude", Status: Warn, Message: "the excluded collections were not looked up"}}
	}
	var out []Result
	for _, key := range o.Exclude {
		c, err := o.ResolveCollection(ctx, key)
		if err != nil {
			out = append(out, Result{Check: "exclude", Subject: key, Status: Fail,
				Message: "excluded collection not found: " + oneLine(err.Error()),
				Fix:     "fix exclude in the plan or the profile: a night with an unknown excluded collection does not start"})
			continue
		}
		out = append(out, Result{Check: "exclude", Subject: c.ID, Status: OK,
			Message: fmt.Sprintf("%s (%s): its %d members (at the last evaluation) are left alone by every step and counted apart in the morning report", c.Name, c.ID, c.Members)})
	}
	return out
}

// checkPlanWarnings lists the plan's own warnings (issue 17: follow_up repair_client asks for
// SMS_Client.RepairClient, which the ConfigMgr reference does not confirm).
func checkPlanWarnings(_ context.Context, o Options) []Result {
	var out []Result
	for _, w := range o.PlanWarnings {
		out = append(out, Result{Check: "plan", Status: Warn, Message: w,
			Fix: "leave repair_client out, or repair the listed clients by hand"})
	}
	return out
}
