# patchnight-op: provider-client-operation-status/1
# Summary of a client notification operation from the SMS Provider
# (root\sms\site_<SiteCode>): SMS_ClientOperationStatus, selected by the WQL condition
# patchnight builds ("ID = n"); counters of total, completed, failed, offline and unknown
# clients, State and IsExpired as the provider reports them.
# Parameters: {"SiteCode": "ABC", "OperationID": 16777300, "Filter": "ID = 16777300"}
# Result: {"operationId": 16777300, "found": true, "type": 14, "state": 1, "isExpired": false,
#          "totalClients": 10, "completedClients": 8, "failedClients": 0, "offlineClients": 2,
#          "unknownClients": 0, "lastUpdated": "2026-12-08T22:05:00Z"}
# patchnight-uses: common, provider
param($p)
$ErrorActionPreference = 'Stop'

$ns = Get-PnSiteNamespace $p
$id = [uint32]$p.OperationID
$filter = [string]$p.Filter
if ($filter -cne ('ID = ' + $id)) { Stop-Op 'bad-parameter' 'Filter must be "ID = <OperationID>"' }
try {
    $s = @(Get-CimInstance -Namespace $ns -ClassName 'SMS_ClientOperationStatus' -Filter $filter)
} catch {
    $x = $_.Exception
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'AccessDenied') {
        Stop-Op 'access-denied' ('access denied: ' + $x.Message)
    }
    Stop-Op 'cim' ([string]$x.Message)
}
if ($s.Count -eq 0) {
    Write-Result ([ordered]@{ operationId = $id; found = $false })
    exit 0
}
$o = $s[0]
Write-Result ([ordered]@{ operationId = $id; found = $true; type = [uint32]$o.Type; state = [uint32]$o.State;
    isExpired = ([int64]$o.IsExpired -ne 0); totalClients = [int64]$o.TotalClients;
    completedClients = [int64]$o.CompletedClients; failedClients = [int64]$o.FailedClients;
    offlineClients = [int64]$o.OfflineClients; unknownClients = [int64]$o.UnknownClients;
    lastUpdated = (Format-PnTime $o.TimeLastUpdated) })
