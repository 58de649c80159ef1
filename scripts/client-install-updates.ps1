# patchnight-op: client-install-updates/1
# Installs the client's missing deployed updates through the ConfigMgr client: the
# root\ccm\ClientSDK CCM_SoftwareUpdate instances with ComplianceState = 0 go to
# CCM_SoftwareUpdatesManager.InstallUpdates (configmgr.md section 6; WUA refuses remote
# installs). The SDK lists only deployed, applicable, not installed updates.
# Parameters: {"ArticleIDs": ["5034441", ...]} optional: restrict to these KB numbers.
# Result: {"started": 2, "articleIds": ["5034441", "890830"], "returnValue": 0}
# patchnight-uses: common, cim
param($p)
$ErrorActionPreference = 'Stop'

$only = @(Get-PnArticleIDs $p)
try {
    $missing = @(Get-CimInstance -Namespace 'root\ccm\ClientSDK' -ClassName 'CCM_SoftwareUpdate' -Filter 'ComplianceState=0')
} catch {
    Stop-Cim $_
}
if ($only.Count -gt 0) {
    $missing = @($missing | Where-Object { $only -contains [string]$_.ArticleID })
}
if ($missing.Count -eq 0) {
    Write-Result @{ started = 0; articleIds = @(); returnValue = 0 }
    exit 0
}
try {
    $r = Invoke-CimMethod -Namespace 'root\ccm\ClientSDK' -ClassName 'CCM_SoftwareUpdatesManager' -MethodName 'InstallUpdates' -Arguments @{ CCMUpdates = [ciminstance[]]$missing }
} catch {
    Stop-Cim $_
}
$rv = [int64]$r.ReturnValue
if ($rv -ne 0) {
    Stop-Op 'method-failed' ('InstallUpdates returned ' + $rv)
}
$ids = @($missing | ForEach-Object { [string]$_.ArticleID })
Write-Result @{ started = $missing.Count; articleIds = $ids; returnValue = $rv }
