package doctor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/patchnight/patchnight/pkg/site"
)

// notRequiredSample is how many online clients the not-required check compares: the All
// view is the most expensive status view, so a few machines, one query each.
const notRequiredSample = 2

// notRequiredFix says what rests on patchnight's not-required rule.
const notRequiredFix = "patchnight derives not required and unknown from the machine's scan (LastScanPackageVersion against the " +
	"update's MinSourceVersion) for the compliance report, a machine's updates and the night's known count; where the site says otherwise " +
	"those counts are off: report it with this line"

// statusAgreement is one row of doctor_not_required.
type statusAgreement struct {
	name                           string
	updates                        int64
	agree, siteNotReq, siteUnknown sql.NullInt64
	example                        sql.NullInt64
}

// checkNotRequired: whether patchnight's rule for updates without a row in
// v_UpdateComplianceStatus (not required when the scan carried the update's catalog,
// unknown otherwise; reference 1.2, the exact rule unconfirmed there) gives what the site's
// own v_Update_ComplianceStatusAll says, on a few online clients. patchnight never reads
// the All view otherwise, so a site without it (or without the right to read it) is a
// warning, not a failure.
func checkNotRequired(ctx context.Context, o Options) []Result {
	const check, subject = "not-required", "v_Update_ComplianceStatusAll"
	type machine struct {
		id   int64
		name string
	}
	var sample []machine
	errStop := errors.New("sample complete")
	err := o.Site.Each(ctx, "doctor_online_sample", nil, func(r *sql.Rows) error {
		var m machine
		if err := r.Scan(&m.id, &m.name); err != nil {
			return fmt.Errorf("read v_CombinedDeviceResources: %w", err)
		}
		sample = append(sample, m)
		if len(sample) >= notRequiredSample {
			return errStop
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		r := schemaResult(check, subject, "doctor_online_sample", err)
		r.Status, r.Unconfirmed = Warn, true
		return []Result{r}
	}
	if len(sample) == 0 {
		return []Result{{Check: check, Subject: subject, Status: Warn, Unconfirmed: true,
			Message: "no client online on the fast channel to compare",
			Fix:     "run doctor again while clients are online; " + notRequiredFix}}
	}
	var rows []statusAgreement
	for _, m := range sample {
		a := statusAgreement{name: m.name}
		err := o.Site.Each(ctx, "doctor_not_required", site.Params{"resource_id": m.id}, func(r *sql.Rows) error {
			return r.Scan(&a.updates, &a.agree, &a.siteNotReq, &a.siteUnknown, &a.example)
		})
		if err != nil {
			r := Result{Check: check, Subject: subject, Status: Warn, Unconfirmed: true,
				Message: "cannot compare with the site's v_Update_ComplianceStatusAll: " + oneLine(err.Error()),
				Fix:     "nothing patchnight runs needs the All view; to have this comparison, let the account read it (GRANT SELECT ON v_Update_ComplianceStatusAll TO smsschm_users)"}
			if se := site.ClassifySchemaError(err); se != nil {
				r.Message, _ = schemaFix(se, "doctor_not_required")
				r.Message = "cannot compare with the site's v_Update_ComplianceStatusAll: " + r.Message
				switch {
				case se.Problem == site.MissingColumn && strings.EqualFold(se.Name, "MinSourceVersion"):
					r.Fix = "see the min-source-version line"
				case se.Problem == site.MissingObject:
					r.Fix = "nothing patchnight runs needs the All view; without it, this comparison cannot be made (the rule stays unconfirmed on this site)"
				}
			}
			return []Result{r}
		}
		rows = append(rows, a)
	}
	r := judgeNotRequired(rows)
	r.Check, r.Subject = check, subject
	return []Result{r}
}

// judgeNotRequired sums the comparisons of the sampled machines.
func judgeNotRequired(rows []statusAgreement) Result {
	var updates, agree, notReq, unknown int64
	var names []string
	example := ""
	for _, a := range rows {
		updates += a.updates
		agree += a.agree.Int64
		notReq += a.siteNotReq.Int64
		unknown += a.siteUnknown.Int64
		names = append(names, a.name)
		if example == "" && a.example.Valid {
			example = fmt.Sprintf("CI_ID %d on %s", a.example.Int64, a.name)
		}
	}
	on := strings.Join(names, ", ")
	if updates == 0 {
		return Result{Status: Warn, Unconfirmed: true,
			Message: "the site's v_Update_ComplianceStatusAll has no update for " + on + ": nothing to compare",
			Fix:     "run doctor again after the clients have scanned; " + notRequiredFix}
	}
	if agree == updates {
		return Result{Status: OK, Unconfirmed: true,
			Message: fmt.Sprintf("on %s, the site's v_Update_ComplianceStatusAll gives every one of %d update statuses as patchnight derives them (required and installed from the rows; without a row, not required when the scan carried the update's catalog, else unknown)",
				on, updates)}
	}
	var how []string
	if notReq > 0 {
		how = append(how, fmt.Sprintf("%d not required where patchnight says unknown", notReq))
	}
	if unknown > 0 {
		how = append(how, fmt.Sprintf("%d unknown where patchnight says not required", unknown))
	}
	if other := updates - agree - notReq - unknown; other > 0 {
		how = append(how, fmt.Sprintf("%d otherwise", other))
	}
	return Result{Status: Warn, Unconfirmed: true,
		Message: fmt.Sprintf("on %s, the site's v_Update_ComplianceStatusAll differs from patchnight's rule for %d of %d update statuses (%s), e.g. %s",
			on, updates-agree, updates, strings.Join(how, ", "), example),
		Fix: notRequiredFix}
}
