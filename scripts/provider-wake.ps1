# patchnight-op: provider-wake/1
# Wakes machines through the site (notification wake, ConfigMgr 1810+): the SMS Provider
# (root\sms\site_<SiteCode>) method SMS_SleepServer.MachinesToWakeup(string MachineIDs,
# string CollectionID, out uint32 NumSleepers) (configmgr.md section 7). An awake client on
# each sleeper's subnet sends the magic packet; NumSleepers says how many sleepers the site
# targeted, 0 when no awake client could relay. Needs Notify Resource on the collection.
# MachineIDs is a string: ResourceIDs in decimal separated by commas, or empty for every
# member of the collection (the exact format for several machines is unconfirmed).
# Parameters: {"SiteCode": "ABC", "CollectionID": "ABC00012", "MachineIDs": "16777220,16777221"}
# Result: {"numSleepers": 2}
# patchnight-uses: common, provider
param($p)
$ErrorActionPreference = 'Stop'

$ns = Get-PnSiteNamespace $p
$coll = [string]$p.CollectionID
if ($coll -notmatch '^[A-Z0-9]{3}[0-9A-F]{5}$' -or $coll.StartsWith('SMS')) {
    Stop-Op 'bad-parameter' 'CollectionID is not a collection patchnight may wake (built-in collections are not woken)'
}
$ids = [string]$p.MachineIDs
if ($ids -notmatch '^(?:[0-9]{1,10}(?:,[0-9]{1,10})*)?$') { Stop-Op 'bad-parameter' 'MachineIDs must be decimal ResourceIDs separated by commas' }

try {
    $r = Invoke-CimMethod -Namespace $ns -ClassName 'SMS_SleepServer' -MethodName 'MachinesToWakeup' -Arguments @{
        MachineIDs = $ids; CollectionID = $coll }
} catch {
    Stop-ProviderCim $_ $ns 'access denied (Notify Resource on the collection is needed): '
}
if ($null -eq $r) { Stop-Op 'method-failed' 'MachinesToWakeup returned nothing' }
if ($null -ne $r.ReturnValue -and [int64]$r.ReturnValue -ne 0) { Stop-Op 'method-failed' ('MachinesToWakeup returned ' + [string]$r.ReturnValue) }
if ($null -eq $r.NumSleepers) { Stop-Op 'method-failed' 'MachinesToWakeup reported no NumSleepers' }
Write-Result @{ numSleepers = [uint32]$r.NumSleepers }
