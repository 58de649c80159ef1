# patchnight-op: provider-client-operation/1
# Starts a client notification operation through the SMS Provider (root\sms\site_<SiteCode>):
# SMS_ClientOperation.InitiateClientOperation(Type, TargetCollectionID, TargetResourceIDs)
# (configmgr.md section 6). Types patchnight uses: 8 machine policy, 14 software update
# deployment evaluation, 17 restart, 150 wake up. Needs Notify Resource on the collection.
# The Type values come from community scripts and are unconfirmed in Microsoft's docs (1-8
# match the PrimaryActionType doc); whether 150 wakes sleeping machines is unconfirmed too
# (section 7): patchnight wakes through provider-wake (MachinesToWakeup) instead.
# Parameters: {"SiteCode": "ABC", "Type": 14, "CollectionID": "ABC00012",
#              "ResourceIDs": [16777220]}   (empty: every member of the collection)
# Result: {"operationId": 16777300}
# patchnight-uses: common, provider
param($p)
$ErrorActionPreference = 'Stop'

$ns = Get-PnSiteNamespace $p
$type = [uint32]$p.Type
if (@(8, 14, 17, 150) -notcontains $type) { Stop-Op 'bad-parameter' ('client operation type ' + $type + ' is not one patchnight starts') }
$coll = [string]$p.CollectionID
if ($coll -notmatch '^(?:[A-Z0-9]{3}[0-9A-F]{5}|SMS[A-Z0-9]{5})$') { Stop-Op 'bad-parameter' 'CollectionID is not a CollectionID' }
$ids = @()
if ($null -ne $p.ResourceIDs) { $ids = [uint32[]]@($p.ResourceIDs) }

$a = @{ Type = $type; TargetCollectionID = $coll }
if ($ids.Count -gt 0) { $a.TargetResourceIDs = [uint32[]]$ids }
try {
    $r = Invoke-CimMethod -Namespace $ns -ClassName 'SMS_ClientOperation' -MethodName 'InitiateClientOperation' -Arguments $a
} catch {
    Stop-ProviderCim $_ $ns 'access denied (Notify Resource on the collection is needed): '
}
$rv = 0
if ($null -ne $r -and $null -ne $r.ReturnValue) { $rv = [int64]$r.ReturnValue }
if ($rv -ne 0) { Stop-Op 'method-failed' ('InitiateClientOperation returned ' + $rv) }
Write-Result @{ operationId = [uint32]$r.OperationID }
