# patchnight-op: provider-collections/1
# Writes device collections through the SMS Provider, namespace root\sms\site_<SiteCode> on
# this host, all changes of one plan in one call (configmgr.md section 5): create
# (SMS_Collection with an SMS_ST_RecurInterval schedule), properties, console folder
# (SMS_ObjectContainerNode ObjectType 5000, SMS_ObjectContainerItem.MoveMembers; 5000 for
# device collection folders is the community's value, absent from Microsoft's ObjectType
# table: unconfirmed, configmgr.md section 5), membership
# rules (DeleteMembershipRules / AddMembershipRules in batches; query rules checked first
# with SMS_CollectionRuleQuery.ValidateQuery), RequestRefresh, and delete.
# Only collections whose comment ends with the owner tag given for them are changed or
# deleted; all of them are checked before anything is written.
# Parameters: {"SiteCode": "ABC", "ContainerFilter": "ObjectType = 5000",
#   "Collections": [{"Key": "...", "CollectionID": "" (create) or "ABC00012",
#       "OwnerTag": "[patchnight:family:key]",
#       "Props": {"Name", "Comment", "LimitToCollectionID", "RefreshType", "RefreshDays", "RefreshHours"} or null,
#       "Folder": "" (leave) or "/a/b", "RemoveQueryIDs": [1], "RemoveDirect": [16777220],
#       "AddQueryRules": [{"RuleName", "QueryExpression"}], "AddDirect": [{"ResourceID", "RuleName"}],
#       "Refresh": true}],
#   "Deletes": [{"CollectionID": "ABC00012", "OwnerTag": "[patchnight:...]"}]}
# Result: {"collections": [{"key", "collectionId", "created", "updated", "moved", "queryIds",
#          "added", "removed", "refreshed"}], "deleted": ["ABC00012"]}
# patchnight-uses: common, provider
param($p)
$ErrorActionPreference = 'Stop'

function Stop-CollectionsCim($err, [string]$what) {
    $x = $err.Exception
    $done = ''
    if ($progress.Count -gt 0) { $done = ' (done before the failure: ' + ($progress -join ', ') + '; run plan again to see what is left)' }
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'InvalidNamespace') {
        Stop-Op 'no-provider' ('the SMS Provider namespace ' + $ns + ' does not exist on this host' + $done)
    }
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'AccessDenied') {
        Stop-Op 'access-denied' ($what + ': access denied: ' + $x.Message + $done)
    }
    Stop-Op 'cim' ($what + ': ' + [string]$x.Message + $done)
}
function Get-PnList($v) {
    if ($null -eq $v) { return @() }
    return @($v)
}
function Assert-PnReturn($r, [string]$what) {
    $rv = 0
    if ($null -ne $r -and $null -ne $r.ReturnValue) { $rv = [int64]$r.ReturnValue }
    if ($rv -ne 0) { Stop-Op 'method-failed' ($what + ' returned ' + $rv) }
}

$ns = Get-PnSiteNamespace $p
if ([string]$p.ContainerFilter -cne 'ObjectType = 5000') { Stop-Op 'bad-parameter' 'ContainerFilter must select device collection folders (ObjectType = 5000)' }
$idPattern = '^(?:[A-Z0-9]{3}[0-9A-F]{5}|SMS[A-Z0-9]{5})$'
$batch = 1000
$progress = New-Object 'System.Collections.Generic.List[string]'
$cache = @{}

function Get-PnClass([string]$name) {
    if (-not $cache.ContainsKey('class:' + $name)) {
        $cache['class:' + $name] = Get-CimClass -Namespace $ns -ClassName $name
    }
    return $cache['class:' + $name]
}

# A collection by key (no WQL); the full instance, so the lazy CollectionRules are filled.
function Get-PnCollection([string]$id) {
    $key = New-CimInstance -CimClass (Get-PnClass 'SMS_Collection') -ClientOnly -Property @{ CollectionID = $id }
    try {
        return Get-CimInstance -InputObject $key
    } catch {
        $x = $_.Exception
        if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'NotFound') { return $null }
        throw
    }
}

function Test-PnOwned($coll, [string]$tag) {
    if ($tag -eq '') { return $false }
    return ([string]$coll.Comment).TrimEnd().EndsWith($tag, [StringComparison]::Ordinal)
}

function New-PnSchedule($props) {
    $h = @{ DaySpan = [uint32]$props.RefreshDays; HourSpan = [uint32]$props.RefreshHours; MinuteSpan = [uint32]0;
        IsGMT = $true; StartTime = [datetime]::UtcNow.Date }
    return New-CimInstance -CimClass (Get-PnClass 'SMS_ST_RecurInterval') -ClientOnly -Property $h
}

function Get-PnProps($props) {
    $h = @{ Name = [string]$props.Name; Comment = [string]$props.Comment;
        LimitToCollectionID = [string]$props.LimitToCollectionID; RefreshType = [uint32]$props.RefreshType }
    if ([string]$h.LimitToCollectionID -notmatch $idPattern) { Stop-Op 'bad-parameter' ('LimitToCollectionID of ' + $h.Name + ' is not a CollectionID') }
    if ($h.RefreshType -eq 2 -or $h.RefreshType -eq 6) {
        $h.RefreshSchedule = [ciminstance[]]@(New-PnSchedule $props)
    }
    return $h
}

# Console folders for device collections, created as needed; returns the ContainerNodeID.
function Get-PnFolder([string]$path) {
    if ($path -eq '/') { return [uint32]0 }
    if (-not $cache.ContainsKey('nodes')) {
        $cache['nodes'] = New-Object 'System.Collections.Generic.List[object]'
        foreach ($n in @(Get-CimInstance -Namespace $ns -ClassName 'SMS_ObjectContainerNode' -Filter ([string]$p.ContainerFilter))) { $cache['nodes'].Add($n) }
    }
    $parent = [uint32]0
    foreach ($name in $path.Substring(1).Split('/')) {
        $hit = $null
        foreach ($n in $cache['nodes']) {
            if ([uint32]$n.ParentContainerNodeID -eq $parent -and [string]$n.Name -eq $name) { $hit = $n; break }
        }
        if ($null -eq $hit) {
            $hit = New-CimInstance -CimClass (Get-PnClass 'SMS_ObjectContainerNode') -Property @{
                Name = $name; ObjectType = [uint32]5000; ParentContainerNodeID = $parent }
            $cache['nodes'].Add($hit)
            $progress.Add('folder ' + $name + ' created')
        }
        $parent = [uint32]$hit.ContainerNodeID
    }
    return $parent
}

# The folder each device collection is in now (InstanceKey = CollectionID); root = 0.
function Get-PnCurrentFolder([string]$id) {
    if (-not $cache.ContainsKey('items')) {
        $m = @{}
        foreach ($i in @(Get-CimInstance -Namespace $ns -ClassName 'SMS_ObjectContainerItem' -Filter ([string]$p.ContainerFilter))) {
            $m[[string]$i.InstanceKey] = [uint32]$i.ContainerNodeID
        }
        $cache['items'] = $m
    }
    if ($cache['items'].ContainsKey($id)) { return [uint32]$cache['items'][$id] }
    return [uint32]0
}

function Invoke-PnRules($coll, [string]$method, $rules, [string]$id) {
    $ids = New-Object 'System.Collections.Generic.List[uint32]'
    for ($i = 0; $i -lt $rules.Count; $i += $batch) {
        $chunk = [ciminstance[]]@($rules[$i..([Math]::Min($i + $batch, $rules.Count) - 1)])
        $r = Invoke-CimMethod -InputObject $coll -MethodName $method -Arguments @{ collectionRules = $chunk }
        Assert-PnReturn $r ($method + ' on ' + $id)
        if ($null -ne $r.QueryIDs) { foreach ($q in @($r.QueryIDs)) { $ids.Add([uint32]$q) } }
    }
    return , $ids.ToArray()
}

$changes = @(Get-PnList $p.Collections)
$deletes = @(Get-PnList $p.Deletes)

# Phase 1: check everything before writing anything.
try {
    $null = Get-PnClass 'SMS_Collection'
} catch {
    Stop-CollectionsCim $_ 'open the SMS Provider'
}
$existing = @{}
try {
    foreach ($c in $changes) {
        $id = [string]$c.CollectionID
        if ($id -eq '') {
            if ($null -eq $c.Props) { Stop-Op 'bad-parameter' ('change ' + [string]$c.Key + ' creates a collection without properties') }
            continue
        }
        if ($id -notmatch $idPattern -or $id.StartsWith('SMS')) { Stop-Op 'bad-parameter' ('CollectionID ' + $id + ' is not a collection patchnight may change') }
        $coll = Get-PnCollection $id
        if ($null -eq $coll) { Stop-Op 'not-found' ('collection ' + $id + ' does not exist (any more); run plan again') }
        if (-not (Test-PnOwned $coll ([string]$c.OwnerTag))) {
            Stop-Op 'not-owned' ('collection ' + $id + ' is not managed by patchnight: its comment does not end with ' + [string]$c.OwnerTag + '; nothing was changed')
        }
        $existing[$id] = $coll
    }
    foreach ($d in $deletes) {
        $id = [string]$d.CollectionID
        if ($id -notmatch $idPattern -or $id.StartsWith('SMS')) { Stop-Op 'bad-parameter' ('CollectionID ' + $id + ' is not a collection patchnight may delete') }
        $coll = Get-PnCollection $id
        if ($null -eq $coll) { continue }
        if (-not (Test-PnOwned $coll ([string]$d.OwnerTag))) {
            Stop-Op 'not-owned' ('collection ' + $id + ' is not managed by patchnight: its comment does not end with ' + [string]$d.OwnerTag + '; nothing was changed')
        }
        $existing[$id] = $coll
    }
    foreach ($c in $changes) {
        foreach ($q in @(Get-PnList $c.AddQueryRules)) {
            $v = Invoke-CimMethod -Namespace $ns -ClassName 'SMS_CollectionRuleQuery' -MethodName 'ValidateQuery' -Arguments @{ WQLQuery = [string]$q.QueryExpression }
            if ($null -eq $v -or -not [bool]$v.ReturnValue) {
                Stop-Op 'bad-query' ('the provider refuses query rule ' + [string]$q.RuleName + ' of ' + [string]$c.Key + '; nothing was changed')
            }
        }
    }
} catch {
    Stop-CollectionsCim $_ 'check the collections'
}

# Phase 2: write.
$results = New-Object 'System.Collections.Generic.List[object]'
$moves = @{}
$deleted = New-Object 'System.Collections.Generic.List[string]'
foreach ($c in $changes) {
    $res = [ordered]@{ key = [string]$c.Key; collectionId = [string]$c.CollectionID; created = $false; updated = $false;
        moved = $false; queryIds = @(); added = 0; removed = 0; refreshed = $false }
    try {
        $id = [string]$c.CollectionID
        if ($id -eq '') {
            $h = Get-PnProps $c.Props
            if (-not ([string]$h.Comment).TrimEnd().EndsWith([string]$c.OwnerTag, [StringComparison]::Ordinal)) {
                Stop-Op 'bad-parameter' ('the comment of ' + [string]$h.Name + ' does not end with its owner tag')
            }
            $h.CollectionType = [uint32]2
            $h.OwnedByThisSite = $true
            $new = New-CimInstance -CimClass (Get-PnClass 'SMS_Collection') -Property $h
            $id = [string]$new.CollectionID
            if ($id -eq '') {
                foreach ($x in @(Get-CimInstance -Namespace $ns -ClassName 'SMS_Collection')) {
                    if ([string]$x.Name -ceq [string]$h.Name) { $id = [string]$x.CollectionID; break }
                }
            }
            if ($id -notmatch $idPattern) { Stop-Op 'create-failed' ('the provider returned no CollectionID for ' + [string]$h.Name) }
            $coll = Get-PnCollection $id
            $res.collectionId = $id
            $res.created = $true
            $progress.Add($id + ' created')
        } else {
            $coll = $existing[$id]
            if ($null -ne $c.Props) {
                $h = Get-PnProps $c.Props
                if (-not ([string]$h.Comment).TrimEnd().EndsWith([string]$c.OwnerTag, [StringComparison]::Ordinal)) {
                    Stop-Op 'bad-parameter' ('the new comment of ' + $id + ' does not end with its owner tag')
                }
                $coll = Set-CimInstance -InputObject $coll -Property $h -PassThru
                $coll = Get-PnCollection $id
                $res.updated = $true
                $progress.Add($id + ' updated')
            }
        }

        # Rules: delete first, then add.
        $rmQ = New-Object 'System.Collections.Generic.HashSet[uint32]'
        foreach ($q in @(Get-PnList $c.RemoveQueryIDs)) { $null = $rmQ.Add([uint32]$q) }
        $rmD = New-Object 'System.Collections.Generic.HashSet[uint32]'
        foreach ($d in @(Get-PnList $c.RemoveDirect)) { $null = $rmD.Add([uint32]$d) }
        if ($rmQ.Count -gt 0 -or $rmD.Count -gt 0) {
            $del = @()
            foreach ($r in @(Get-PnList $coll.CollectionRules)) {
                $cls = $r.CimClass.CimClassName
                if (($cls -eq 'SMS_CollectionRuleQuery' -and $rmQ.Contains([uint32]$r.QueryID)) -or
                    ($cls -eq 'SMS_CollectionRuleDirect' -and $rmD.Contains([uint32]$r.ResourceID))) {
                    $del += $r
                }
            }
            if ($del.Count -gt 0) {
                $null = Invoke-PnRules $coll 'DeleteMembershipRules' $del $id
                $res.removed = $del.Count
                $progress.Add($id + ' ' + $del.Count + ' rules removed')
            }
        }
        $add = @()
        foreach ($q in @(Get-PnList $c.AddQueryRules)) {
            $add += New-CimInstance -CimClass (Get-PnClass 'SMS_CollectionRuleQuery') -ClientOnly -Property @{
                RuleName = [string]$q.RuleName; QueryExpression = [string]$q.QueryExpression }
        }
        $nQuery = $add.Count
        foreach ($d in @(Get-PnList $c.AddDirect)) {
            $add += New-CimInstance -CimClass (Get-PnClass 'SMS_CollectionRuleDirect') -ClientOnly -Property @{
                ResourceClassName = 'SMS_R_System'; ResourceID = [uint32]$d.ResourceID; RuleName = [string]$d.RuleName }
        }
        if ($add.Count -gt 0) {
            $qids = Invoke-PnRules $coll 'AddMembershipRules' $add $id
            # Direct rules get QueryID 0; the query rules come first.
            $res.queryIds = @($qids | Select-Object -First $nQuery)
            $res.added = $add.Count
            $progress.Add($id + ' ' + $add.Count + ' rules added')
        }

        # Console folder: moves are collected and made per source and target folder below.
        if ([string]$c.Folder -ne '') {
            $to = Get-PnFolder ([string]$c.Folder)
            $from = Get-PnCurrentFolder $id
            if ($from -ne $to) {
                $k = [string]$from + '>' + [string]$to
                if (-not $moves.ContainsKey($k)) { $moves[$k] = New-Object 'System.Collections.Generic.List[string]' }
                $moves[$k].Add($id)
                $res.moved = $true
            }
        }

        if ([bool]$c.Refresh) {
            $r = Invoke-CimMethod -InputObject $coll -MethodName 'RequestRefresh'
            Assert-PnReturn $r ('RequestRefresh on ' + $id)
            $res.refreshed = $true
        }
    } catch {
        Stop-CollectionsCim $_ ('collection ' + [string]$c.Key)
    }
    $results.Add($res)
}

try {
    foreach ($k in $moves.Keys) {
        $ends = $k.Split('>')
        $r = Invoke-CimMethod -Namespace $ns -ClassName 'SMS_ObjectContainerItem' -MethodName 'MoveMembers' -Arguments @{
            InstanceKeys = [string[]]$moves[$k].ToArray(); ContainerNodeID = [uint32]$ends[0];
            TargetContainerNodeID = [uint32]$ends[1]; ObjectType = [uint32]5000 }
        Assert-PnReturn $r 'MoveMembers'
        $progress.Add([string]$moves[$k].Count + ' moved')
    }
    foreach ($d in $deletes) {
        $id = [string]$d.CollectionID
        if (-not $existing.ContainsKey($id)) { continue }
        Remove-CimInstance -InputObject $existing[$id]
        $deleted.Add($id)
        $progress.Add($id + ' deleted')
    }
} catch {
    Stop-CollectionsCim $_ 'move or delete collections'
}

Write-Result @{ collections = $results.ToArray(); deleted = $deleted.ToArray() }
