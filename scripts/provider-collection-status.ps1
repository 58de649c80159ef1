# patchnight-op: provider-collection-status/1
# Evaluation state of device collections from the SMS Provider (root\sms\site_<SiteCode>):
# SMS_Collection CurrentStatus (1 ready, 2 refreshing, ... configmgr.md section 5),
# LastRefreshTime, LastChangeTime and MemberCount, each read by key.
# Parameters: {"SiteCode": "ABC", "CollectionIDs": ["ABC00012"]}
# Result: {"collections": [{"collectionId": "ABC00012", "found": true, "name": "...",
#          "currentStatus": 1, "lastRefreshTime": "2026-12-08T22:05:00Z",
#          "lastChangeTime": "...", "memberCount": 12}]}   (times UTC)
# patchnight-uses: common, provider
param($p)
$ErrorActionPreference = 'Stop'

$ns = Get-PnSiteNamespace $p
$ids = @()
if ($null -ne $p.CollectionIDs) { $ids = @($p.CollectionIDs) }

$out = New-Object 'System.Collections.Generic.List[object]'
try {
    $cls = Get-CimClass -Namespace $ns -ClassName 'SMS_Collection'
    foreach ($id in $ids) {
        $id = [string]$id
        if ($id -notmatch '^(?:[A-Z0-9]{3}[0-9A-F]{5}|SMS[A-Z0-9]{5})$') { Stop-Op 'bad-parameter' ($id + ' is not a CollectionID') }
        $key = New-CimInstance -CimClass $cls -ClientOnly -Property @{ CollectionID = $id }
        $c = $null
        try {
            $c = Get-CimInstance -InputObject $key
        } catch {
            $x = $_.Exception
            if (-not ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'NotFound')) { throw }
        }
        if ($null -eq $c) {
            $out.Add([ordered]@{ collectionId = $id; found = $false })
            continue
        }
        $out.Add([ordered]@{ collectionId = $id; found = $true; name = [string]$c.Name;
            currentStatus = [int]$c.CurrentStatus; lastRefreshTime = (Format-PnTime $c.LastRefreshTime);
            lastChangeTime = (Format-PnTime $c.LastChangeTime); memberCount = [int64]$c.MemberCount })
    }
} catch {
    Stop-ProviderCim $_ $ns 'access denied: '
}
Write-Result @{ collections = $out.ToArray() }
