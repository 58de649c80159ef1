package sitecoll

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/patchnight/patchnight/collections"
	"github.com/patchnight/patchnight/pkg/exit"
	"github.com/patchnight/patchnight/pkg/pwsh"
	"github.com/patchnight/patchnight/pkg/wql"
)

// Export formats.
const (
	FormatPS1  = "ps1"
	FormatJSON = "json"
)

// Export writes the plan's desired collections for review: as a PowerShell script that
// creates them with the ConfigurationManager cmdlets (reference section 5), or as JSON.
// Every value in the script is a PowerShell single-quoted literal (pwsh.Quote).
func (p *Plan) Export(w io.Writer, format string) error {
	switch strings.ToLower(format) {
	case FormatPS1:
		return p.exportPS1(w)
	case FormatJSON:
		return p.exportJSON(w)
	}
	return exit.Usagef("use --format ps1 or --format json", "export format %q is not known", format)
}

type exportDoc struct {
	Generated   string           `json:"generated"`
	Month       string           `json:"month"`
	Collections []exportedColl   `json:"collections"`
	Group       *exportedGroup   `json:"update_group,omitempty"`
	Updates     []exportedUpdate `json:"updates,omitempty"`
}

type exportedGroup struct {
	CIID  int64  `json:"ci_id"`
	Title string `json:"title"`
}

type exportedUpdate struct {
	Ref   string `json:"ref"`
	Title string `json:"title"`
}

type exportedColl struct {
	Family       string         `json:"family"`
	Key          string         `json:"key"`
	OwnerTag     string         `json:"owner_tag"`
	Name         string         `json:"name"`
	Comment      string         `json:"comment"`
	Limit        string         `json:"limiting_collection"`
	RefreshType  string         `json:"refresh_type"`
	RefreshEvery string         `json:"refresh_every,omitempty"`
	Folder       string         `json:"folder"`
	Membership   string         `json:"membership"`
	QueryRule    *exportedQuery `json:"query_rule,omitempty"`
	DirectRules  []Member       `json:"direct_rules,omitempty"`
	SQLTwin      string         `json:"sql_twin"`
	Members      int            `json:"members"`
}

type exportedQuery struct {
	RuleName        string `json:"rule_name"`
	QueryExpression string `json:"query_expression"`
}

func every(r collections.Refresh) string {
	switch {
	case !r.Periodic():
		return ""
	case r.Days > 0:
		return strconv.Itoa(r.Days) + "d"
	}
	return strconv.Itoa(r.Hours) + "h"
}

func (p *Plan) exportJSON(w io.Writer) error {
	doc := exportDoc{Generated: p.Now.UTC().Format("2006-01-02T15:04:05Z"), Month: p.Month, Collections: []exportedColl{}}
	if p.Group != nil {
		doc.Group = &exportedGroup{CIID: p.Group.CIID, Title: p.Group.Title}
	}
	for _, u := range p.Updates {
		doc.Updates = append(doc.Updates, exportedUpdate{Ref: u.Ref, Title: u.Title})
	}
	for _, d := range p.Desired {
		e := exportedColl{Family: d.Family, Key: d.Key, OwnerTag: d.OwnerTag, Name: d.Name, Comment: d.Comment,
			Limit: d.Limit, RefreshType: d.Refresh.TypeName(), RefreshEvery: every(d.Refresh), Folder: d.Folder,
			Membership: string(d.Membership), SQLTwin: d.SQL, Members: len(d.Members)}
		switch d.Membership {
		case collections.Query:
			e.QueryRule = &exportedQuery{RuleName: d.RuleName, QueryExpression: d.Query}
		case collections.Direct:
			e.DirectRules = d.Members
		}
		doc.Collections = append(doc.Collections, e)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}

// psHeader is the fixed part of the exported script: parameters, the ConfigurationManager
// module and site drive, and the helper functions the collection blocks call. It holds no
// data from the plan.
const psHeader = `[CmdletBinding()]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[A-Za-z0-9]{3}$')]
    [string] $SiteCode,
    [string] $ProviderMachineName = $env:COMPUTERNAME
)
$ErrorActionPreference = 'Stop'

if (-not (Get-Module -Name ConfigurationManager)) {
    if (-not $env:SMS_ADMIN_UI_PATH) {
        throw 'The Configuration Manager console is not installed on this machine (SMS_ADMIN_UI_PATH is not set).'
    }
    Import-Module (Join-Path (Split-Path -Parent $env:SMS_ADMIN_UI_PATH) 'ConfigurationManager.psd1')
}
if (-not (Get-PSDrive -Name $SiteCode -PSProvider CMSite -ErrorAction SilentlyContinue)) {
    $null = New-PSDrive -Name $SiteCode -PSProvider CMSite -Root $ProviderMachineName
}

# The device collection folder for a path like '/patchnight/Scan', created as needed; returns
# the path Move-CMObject takes.
function Initialize-PnFolder([string] $Path) {
    $parent = 'DeviceCollection'
    foreach ($name in $Path.Trim('/').Split('/')) {
        if ($name -eq '') { continue }
        if (-not (Test-Path -Path ($SiteCode + ':\' + $parent + '\' + $name))) {
            $null = New-CMFolder -ParentFolderPath $parent -Name $name
        }
        $parent = $parent + '\' + $name
    }
    return $SiteCode + ':\' + $parent
}

# The collection with this name, created when missing. An existing collection must carry the
# owner tag at the end of its comment: the script never changes anyone else's collection.
function Get-PnCollection([string] $Name, [string] $Comment, [string] $OwnerTag, [string] $LimitingCollectionId,
    [string] $RefreshType, [string] $RecurInterval, [int] $RecurCount) {
    $c = Get-CMDeviceCollection -Name $Name
    if ($null -ne $c) {
        if (-not ([string]$c.Comment).TrimEnd().EndsWith($OwnerTag, [StringComparison]::Ordinal)) {
            throw ('Collection ' + $Name + ' exists and is not managed by patchnight; rename it and run this again.')
        }
        return $c
    }
    $a = @{ Name = $Name; Comment = $Comment; LimitingCollectionId = $LimitingCollectionId; RefreshType = $RefreshType }
    if ($RecurInterval -ne '') {
        $a.RefreshSchedule = New-CMSchedule -RecurInterval $RecurInterval -RecurCount $RecurCount
    }
    return New-CMDeviceCollection @a
}

function Add-PnQueryRule($Collection, [string] $RuleName, [string] $QueryExpression) {
    if (-not (Get-CMDeviceCollectionQueryMembershipRule -CollectionId $Collection.CollectionID -RuleName $RuleName)) {
        Add-CMDeviceCollectionQueryMembershipRule -CollectionId $Collection.CollectionID -RuleName $RuleName -QueryExpression $QueryExpression
    }
}

function Add-PnDirectRules($Collection, [int64[]] $ResourceId) {
    $have = @(Get-CMDeviceCollectionDirectMembershipRule -CollectionId $Collection.CollectionID | ForEach-Object { [int64]$_.ResourceID })
    $add = @($ResourceId | Where-Object { $have -notcontains $_ })
    for ($i = 0; $i -lt $add.Count; $i += 500) {
        $chunk = $add[$i..([Math]::Min($i + 500, $add.Count) - 1)]
        Add-CMDeviceCollectionDirectMembershipRule -CollectionId $Collection.CollectionID -ResourceId $chunk
    }
}

function Move-PnCollection($Collection, [string] $Path) {
    if ($Path -eq '/' -or [string]$Collection.ObjectPath -eq $Path) { return }
    Move-CMObject -FolderPath (Initialize-PnFolder $Path) -ObjectId $Collection.CollectionID
}

Push-Location -Path ($SiteCode + ':\')
try {
`

const psFooter = `} finally {
    Pop-Location
}
`

func (p *Plan) exportPS1(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "# patchnight collections export, generated %s for patch month %s.\n",
		p.Now.UTC().Format("2006-01-02 15:04:05Z"), p.Month)
	if p.Group != nil {
		fmt.Fprintf(bw, "# Missing-update collections for software update group CI_ID %d.\n", p.Group.CIID)
	}
	bw.WriteString(`#
# Review it, then run it on a machine with the Configuration Manager console, as an
# administrator who may create collections:
#   .\collections.ps1 -SiteCode ABC -ProviderMachineName cm01.example.com
# It creates the collections that do not exist, adds the membership rules they lack, moves
# them into their console folders and asks for a membership update. It removes nothing:
# patchnight collections apply and prune do that. A collection with one of these names that
# does not end its comment with the [patchnight:...] owner tag stops the script.
`)
	bw.WriteString(psHeader)
	for i, d := range p.Desired {
		if err := writePSCollection(bw, i+1, d); err != nil {
			return err
		}
	}
	bw.WriteString(psFooter)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write export: %w", err)
	}
	return nil
}

func writePSCollection(w *bufio.Writer, n int, d *Desired) error {
	// Values are validated when the plan is built; check once more what lands in the script.
	if err := wql.CollectionName(d.Name); err != nil {
		return err
	}
	if err := wql.Comment(d.Comment); err != nil {
		return err
	}
	interval, recur := "", 0
	switch {
	case d.Refresh.Periodic() && d.Refresh.Days > 0:
		interval, recur = "Days", d.Refresh.Days
	case d.Refresh.Periodic():
		interval, recur = "Hours", d.Refresh.Hours
	}
	fmt.Fprintf(w, "\n    # %d. %s: %d members when exported (SQL twin %s)\n", n, d.OwnerTag, len(d.Members), d.SQL)
	fmt.Fprintf(w, "    $c = Get-PnCollection -Name %s -Comment %s -OwnerTag %s -LimitingCollectionId %s -RefreshType %s -RecurInterval %s -RecurCount %d\n",
		pwsh.Quote(d.Name), pwsh.Quote(d.Comment), pwsh.Quote(d.OwnerTag), pwsh.Quote(d.Limit), pwsh.Quote(d.Refresh.TypeName()), pwsh.Quote(interval), recur)
	switch d.Membership {
	case collections.Query:
		fmt.Fprintf(w, "    Add-PnQueryRule -Collection $c -RuleName %s -QueryExpression %s\n", pwsh.Quote(d.RuleName), pwsh.Quote(d.Query))
	case collections.Direct:
		if len(d.Members) > 0 {
			w.WriteString("    Add-PnDirectRules -Collection $c -ResourceId @(\n")
			for i, m := range d.Members {
				if i%10 == 0 {
					w.WriteString("        ")
				}
				w.WriteString(strconv.FormatInt(m.ResourceID, 10))
				switch {
				case i == len(d.Members)-1:
					w.WriteString("\n")
				case i%10 == 9:
					w.WriteString(",\n")
				default:
					w.WriteString(", ")
				}
			}
			w.WriteString("    )\n")
		}
	}
	fmt.Fprintf(w, "    Move-PnCollection -Collection $c -Path %s\n", pwsh.Quote(d.Folder))
	w.WriteString("    Invoke-CMCollectionUpdate -CollectionId $c.CollectionID\n")
	return nil
}
