# patchnight-op: client-reboot-pending/1
# Asks the ConfigMgr client whether a restart is pending:
# root\ccm\ClientSDK CCM_ClientUtilities.DetermineIfRebootPending (configmgr.md section 6).
# Parameters: none ({}).
# Result: {"pending": true, "hard": false, "inGracePeriod": false,
#          "deadline": "2026-01-14T03:00:00Z" or null}
# patchnight-uses: common, cim
param($p)
$ErrorActionPreference = 'Stop'

try {
    $r = Invoke-CimMethod -Namespace 'root\ccm\ClientSDK' -ClassName 'CCM_ClientUtilities' -MethodName 'DetermineIfRebootPending'
} catch {
    Stop-Cim $_
}
if ($null -ne $r.ReturnValue -and [int64]$r.ReturnValue -ne 0) {
    Stop-Op 'method-failed' ('DetermineIfRebootPending returned ' + [int64]$r.ReturnValue)
}
# RebootDeadline is a CIM datetime; "no deadline" comes back as a date in 1601 or 1970
# (unconfirmed which), so anything before 2000 means none.
$deadline = $null
if ($r.RebootDeadline -is [datetime] -and $r.RebootDeadline.Year -ge 2000) {
    $deadline = $r.RebootDeadline.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [Globalization.CultureInfo]::InvariantCulture)
}
Write-Result @{
    pending       = [bool]$r.RebootPending
    hard          = [bool]$r.IsHardRebootPending
    inGracePeriod = [bool]$r.InGracePeriod
    deadline      = $deadline
}
