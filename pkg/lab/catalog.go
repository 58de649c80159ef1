package lab

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Kinds of update CI in the lab's catalog.
const (
	kindBulletin  uint8 = iota // bulletin era (MSyy-nnn), years old, mostly installed
	kindPrevMonth              // last month's KB-only updates, superseded by this month's
	kindThisMonth              // this Patch Tuesday's KB-only updates, deployed in the SUG
)

type family struct {
	title    string // {M} = "2026-12", {KB} = article number
	builds   uint8  // 0 = every build
	severity int
}

// Families of this month's (and last month's) updates, cycled in this order.
var modernFamilies = [...]family{
	{"{M} Cumulative Update for Windows 11 Version 24H2 for x64-based Systems (KB{KB})", build26100, 10},
	{"{M} Cumulative Update for Windows 11 Version 23H2 for x64-based Systems (KB{KB})", build22631, 10},
	{"{M} Cumulative Update for Windows 10 Version 22H2 for x64-based Systems (KB{KB})", build19045, 10},
	{"Security Update for Microsoft Office 2016 (KB{KB}) 64-Bit Edition", 0, 8},
	{"{M} Cumulative Update for .NET Framework 3.5 and 4.8.1 for Windows 11, version 24H2 for x64 (KB{KB})", build26100, 8},
	{"{M} Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for Windows 11, version 23H2 for x64 (KB{KB})", build22631, 8},
	{"{M} Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for Windows 10 Version 22H2 for x64 (KB{KB})", build19045, 8},
	{"Security Update for Microsoft Excel 2016 (KB{KB}) 64-Bit Edition", 0, 8},
	{"Security Update for Microsoft Outlook 2016 (KB{KB}) 64-Bit Edition", 0, 6},
	{"Security Update for Microsoft Word 2016 (KB{KB}) 64-Bit Edition", 0, 8},
	{"{M} Servicing Stack Update for Windows 10 Version 22H2 for x64-based Systems (KB{KB})", build19045, 6},
	{"Security Update for Microsoft PowerPoint 2016 (KB{KB}) 64-Bit Edition", 0, 6},
	{"Security Update for Microsoft Access 2016 (KB{KB}) 64-Bit Edition", 0, 2},
	{"Security Update for Microsoft Visio 2016 (KB{KB}) 64-Bit Edition", 0, 6},
	{"Security Update for Microsoft Project 2016 (KB{KB}) 64-Bit Edition", 0, 2},
	{"Security Update for Microsoft Publisher 2016 (KB{KB}) 64-Bit Edition", 0, 6},
	{"Security Update for Microsoft OneNote 2016 (KB{KB}) 64-Bit Edition", 0, 2},
	{"Security Update for Skype for Business 2016 (KB{KB}) 64-Bit Edition", 0, 6},
}

var bulletinFamilies = [...]family{
	{"Security Update for Microsoft Office 2016 (KB{KB}) 64-Bit Edition", 0, 8},
	{"Cumulative Security Update for Internet Explorer 11 for Windows 10 Version 1607 for x64-based Systems (KB{KB})", 0, 10},
	{"Security Update for Microsoft Excel 2016 (KB{KB}) 64-Bit Edition", 0, 8},
	{"Security Update for Adobe Flash Player for Windows 10 Version 1607 for x64-based Systems (KB{KB})", 0, 10},
	{"Security Update for Microsoft Word 2016 (KB{KB}) 64-Bit Edition", 0, 6},
	{"Security Update for Microsoft .NET Framework 4.6.2 on Windows 10 Version 1607 for x64 (KB{KB})", 0, 8},
	{"Security Update for Microsoft Outlook 2016 (KB{KB}) 64-Bit Edition", 0, 2},
}

// updateSpec is one update CI (or the software update group) and how the fleet has it.
type updateSpec struct {
	ciid         int64
	uniqueID     string
	article      string
	bulletin     string
	title        string
	severity     int
	posted       time.Time
	kind         uint8
	fam          int     // index in modernFamilies; -1 for bulletin-era updates
	builds       uint8   // builds it applies to; 0 = every build
	p            float64 // share of matching hosts it applies to
	supersededBy int64   // CI_ID of the update that supersedes it; 0 = none
	deployed     bool
	minVer       int
	// Precomputed times for state rows: when old updates were installed or first reported.
	installTexts [4]string
	reportText   string
}

type catalog struct {
	updates []updateSpec
	sug     updateSpec
	month   string // "2026-12"
}

const firstCIID = 16800001

// buildCatalog draws the lab's update CIs: a quarter bulletin era, 15% last month's
// (superseded), the rest this Patch Tuesday's, plus the software update group.
func buildCatalog(opt Options) *catalog {
	r := newRand(opt.Seed, streamCatalog, 0)
	pt := opt.PatchTuesday
	prevPT := secondTuesday(pt.AddDate(0, 0, -pt.Day()+1).AddDate(0, -1, 0))
	c := &catalog{month: pt.Format("2006-01")}
	prevMonth := prevPT.Format("2006-01")

	n := opt.Updates
	nBul, nPrev := n/4, n*15/100
	nThis := n - nBul - nPrev
	c.updates = make([]updateSpec, n)
	for i := range c.updates {
		c.updates[i].ciid = int64(firstCIID + i)
		c.updates[i].uniqueID = uuidText([2]uint64{r.Uint64(), r.Uint64()})
		c.updates[i].p = 0.6 + 0.3*r.Float64()
	}

	// Bulletin era: MS17-010 first (the reference's example), then bulletins of 2013 to 2016
	// in date order (at most 625 a year, so that numbers keep three digits).
	kb := 3080000 + r.IntN(1000)
	bulNo := map[int]int{}
	for i := range nBul {
		u := &c.updates[i]
		u.kind, u.fam = kindBulletin, -1
		if i == 0 {
			u.article, u.bulletin, u.severity = "4012212", "MS17-010", 10
			u.title = "March, 2017 Security Only Quality Update for Windows 7 for x64-based Systems (KB4012212)"
			u.posted = time.Date(2017, 3, 14, 17, 0, 0, 0, time.UTC)
		} else {
			m := (i - 1) * 47 / max(1, nBul-1)
			year := 2013 + m/12
			u.posted = secondTuesday(time.Date(year, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)).Add(18 * time.Hour)
			step := 1
			if nBul <= 600 {
				step += r.IntN(2)
			}
			bulNo[year] += step
			u.bulletin = fmt.Sprintf("MS%02d-%03d", year%100, bulNo[year])
			kb += 1 + r.IntN(9)
			u.article = strconv.Itoa(kb)
			fam := bulletinFamilies[(i-1)%len(bulletinFamilies)]
			u.title, u.severity = expandTitle(fam.title, "", u.article), fam.severity
			if later := i + len(bulletinFamilies); later < nBul && r.Float64() < 0.4 {
				u.supersededBy = c.updates[later].ciid
			}
		}
		u.minVer = versionAt(u.posted, pt)
	}

	// KB-only updates: Windows and .NET from one article range, Office from another.
	osKB, officeKB := 5068000+r.IntN(500), 5001000+r.IntN(500)
	modern := func(i, j int, month string, posted time.Time) {
		u := &c.updates[i]
		fam := modernFamilies[j%len(modernFamilies)]
		u.fam = j % len(modernFamilies)
		if fam.builds != 0 {
			osKB += 1 + r.IntN(9)
			u.article = strconv.Itoa(osKB)
		} else {
			officeKB += 1 + r.IntN(9)
			u.article = strconv.Itoa(officeKB)
		}
		u.title = expandTitle(fam.title, month, u.article)
		if fam.builds == 0 && j/len(modernFamilies)%2 == 1 {
			u.title = strings.Replace(u.title, "64-Bit Edition", "32-Bit Edition", 1)
		}
		u.bulletin, u.severity, u.builds, u.posted = "", fam.severity, fam.builds, posted
		u.minVer = versionAt(posted, pt)
	}
	for j := range nPrev {
		i := nBul + j
		modern(i, j, prevMonth, prevPT.Add(18*time.Hour))
		c.updates[i].kind = kindPrevMonth
		c.updates[i].supersededBy = c.updates[nBul+nPrev+j].ciid // same family, this month
	}
	osKB, officeKB = max(osKB+1000, 5071000+r.IntN(500)), max(officeKB+500, 5002000+r.IntN(500))
	for j := range nThis {
		i := nBul + nPrev + j
		// DatePosted 18:00 UTC is Microsoft's release time; it lies after the lab's "now"
		// (15:00 UTC) because the lab's schedule is read as site time.
		modern(i, j, c.month, pt.Add(18*time.Hour))
		c.updates[i].kind = kindThisMonth
		c.updates[i].deployed = true
	}

	for i := range c.updates {
		u := &c.updates[i]
		for k, d := range [4]time.Duration{50, 146, 315, 651} {
			u.installTexts[k] = timeText(u.posted.Add(d * time.Hour))
		}
		u.reportText = timeText(u.posted.Add(26 * time.Hour))
	}

	c.sug = updateSpec{
		ciid: int64(firstCIID + n),
		// Authorization lists have ScopeId_.../AuthList_... unique IDs (inferred).
		uniqueID: "ScopeId_" + strings.ToUpper(uuidText([2]uint64{r.Uint64(), r.Uint64()})) +
			"/AuthList_" + strings.ToUpper(uuidText([2]uint64{r.Uint64(), r.Uint64()})),
		title:    "Patch Tuesday " + c.month,
		posted:   pt.Add(12*time.Hour + 30*time.Minute),
		deployed: true,
	}
	return c
}

func expandTitle(format, month, article string) string {
	return strings.NewReplacer("{M}", month, "{KB}", article).Replace(format)
}

// secondTuesday is the second Tuesday of t's month, at midnight UTC.
func secondTuesday(t time.Time) time.Time {
	d := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	for d.Weekday() != time.Tuesday {
		d = d.AddDate(0, 0, 1)
	}
	return d.AddDate(0, 0, 7)
}

// versionAt is the catalog version that first carried an update posted at t, counting back
// from the current version on Patch Tuesday pt (never below 1).
func versionAt(t, pt time.Time) int {
	months := (pt.Year()-t.Year())*12 + int(pt.Month()) - int(t.Month())
	return max(1, CatalogVersion-months*versionsPerMonth)
}

// chainPairs are the lab's chained updates, as indexes in modernFamilies: the second of
// each pair is applicable only once the first is installed and the machine restarted. The
// servicing stack update goes before the cumulative update it serves (Microsoft's
// servicing stack update guidance: "install the latest SSU before the LCU"); a .NET
// cumulative update after the OS cumulative update of the same build is the lab's
// assumption of a common ordering, not a documented rule.
var chainPairs = [...][2]int{{10, 2}, {0, 4}, {1, 5}, {2, 6}}

// applies reports whether update u applies to host h, drawing from r.
func (u *updateSpec) applies(h *hostSpec, r *rand.Rand) bool {
	if u.builds != 0 && u.builds&(1<<h.build) == 0 {
		return false
	}
	return r.Float64() < u.p
}
