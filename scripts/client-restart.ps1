# patchnight-op: client-restart/1
# Restarts the client through the ConfigMgr client:
# root\ccm\ClientSDK CCM_ClientUtilities.RestartComputer (configmgr.md section 6; whether it
# honours the client's restart notification settings is unconfirmed).
# Parameters: {"OnlyIfNobodyLoggedOn": true} optional: do nothing when any session, even a
# disconnected one, exists (sessions as in client-logged-on).
# Result: {"restarted": true, "returnValue": 0}
#      or {"restarted": false, "reason": "users-logged-on", "users": ["jdoe"]}
# patchnight-uses: common, cim, sessions
param($p)
$ErrorActionPreference = 'Stop'

$onlyIfNobody = $false
if ($null -ne $p -and $null -ne $p.OnlyIfNobodyLoggedOn) {
    if ($p.OnlyIfNobodyLoggedOn -isnot [bool]) { Stop-Op 'bad-parameter' 'OnlyIfNobodyLoggedOn must be true or false' }
    $onlyIfNobody = $p.OnlyIfNobodyLoggedOn
}
if ($onlyIfNobody) {
    $r = Get-PnSessions
    $users = @($r.sessions | ForEach-Object { [string]$_.user } | Sort-Object -Unique)
    if ($users.Count -gt 0) {
        Write-Result @{ restarted = $false; reason = 'users-logged-on'; users = $users }
        exit 0
    }
}
try {
    $rc = Invoke-CimMethod -Namespace 'root\ccm\ClientSDK' -ClassName 'CCM_ClientUtilities' -MethodName 'RestartComputer'
} catch {
    Stop-Cim $_
}
$rv = 0
if ($null -ne $rc -and $null -ne $rc.ReturnValue) { $rv = [int64]$rc.ReturnValue }
if ($rv -ne 0) {
    Stop-Op 'method-failed' ('RestartComputer returned ' + $rv)
}
Write-Result @{ restarted = $true; returnValue = $rv }
