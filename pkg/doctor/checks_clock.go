package doctor

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/patchnight/patchnight/pkg/site"
)

// clockSlack is how far ahead of a clock a fast-channel time may be and still fit it
// (clocks of the site's servers drift, and the fast channel records with some delay).
const clockSlack = 15 * time.Minute

// fastChannelFix says what rests on the fast channel's times being UTC.
const fastChannelFix = "patchnight reads CNLastOnlineTime and CNLastOfflineTime as UTC: the follow-up's " +
	"machines not seen since the night, and its seen share, misjudge a machine last seen within the offset of " +
	"the night's start; run doctor again while clients come online (a working morning), and if it still says so, report it with this line"

// checkFastChannelTimes: whether the fast channel's times (v_CombinedDeviceResources
// .CNLastOnlineTime) look like UTC, as patchnight reads them. The reference names the
// columns but not their time zone; the evidence is the latest time a client online now
// came online, against the database server's UTC and local clocks.
func checkFastChannelTimes(ctx context.Context, o Options) []Result {
	const check, subject = "fast-channel-times", "v_CombinedDeviceResources.CNLastOnlineTime"
	clock, err := o.Site.Clock(ctx)
	if err != nil {
		return []Result{{Check: check, Subject: subject, Status: Warn, Message: oneLine(err.Error()),
			Fix: "check that the account may run SELECT on the site database; " + fastChannelFix}}
	}
	var online int64
	var latest site.NullTime
	err = o.Site.Each(ctx, "doctor_fast_channel", nil, func(r *sql.Rows) error {
		return r.Scan(&online, &latest)
	})
	if err != nil {
		return []Result{schemaResult(check, subject, "doctor_fast_channel", err)}
	}
	r := judgeFastChannel(online, latest, clock)
	r.Check, r.Subject = check, subject
	return []Result{r}
}

// judgeFastChannel weighs the latest online time against the server's clocks. Under the
// hypothesis "UTC" the latest client came online clock.UTC − latest ago; under "local",
// that plus the offset. A hypothesis fits when its age is not negative (beyond clockSlack);
// when both fit, the one with the more recent arrival is the likelier (clients come online
// all day), and the message gives both ages so that the admin can judge.
func judgeFastChannel(online int64, latest site.NullTime, clock site.Clock) Result {
	if clock.Offset == 0 {
		return Result{Status: OK, Message: "the database server's local time is UTC: the fast channel's times are UTC either way"}
	}
	if online == 0 || !latest.Valid {
		return Result{Status: Warn, Unconfirmed: true,
			Message: fmt.Sprintf("no client is online on the fast channel now: cannot tell whether its times are UTC (the server is at UTC%s)", offsetText(clock.Offset)),
			Fix:     fastChannelFix}
	}
	ageUTC := clock.UTC.Sub(latest.Time)
	ageLocal := ageUTC + clock.Offset
	fitsUTC, fitsLocal := ageUTC >= -clockSlack, ageLocal >= -clockSlack
	ages := fmt.Sprintf("the latest of %d clients online came online %s ago if the times are UTC, %s ago if they are the server's local time (UTC%s)",
		online, durationText(ageUTC), durationText(ageLocal), offsetText(clock.Offset))
	switch {
	case fitsUTC && (!fitsLocal || ageUTC <= ageLocal):
		return Result{Status: OK, Unconfirmed: true, Message: "the fast channel's times look like UTC: " + ages}
	case fitsLocal:
		return Result{Status: Warn, Unconfirmed: true, Message: "the fast channel's times look like local time, not UTC: " + ages, Fix: fastChannelFix}
	}
	return Result{Status: Warn, Unconfirmed: true,
		Message: "the fast channel's latest time is ahead of the server's clock, UTC and local: " + ages,
		Fix:     "check the clocks of the site server and the database server; " + fastChannelFix}
}

// offsetText is an offset as +1, -5, +5:30.
func offsetText(d time.Duration) string {
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if m == 0 {
		return fmt.Sprintf("%s%d", sign, h)
	}
	return fmt.Sprintf("%s%d:%02d", sign, h, m)
}
