# patchnight-op: client-repair/1
# Asks the ConfigMgr client to repair itself: root\ccm SMS_Client.RepairClient.
# UNCONFIRMED: Microsoft's reference page for the SMS_Client client WMI class lists
# EvaluateMachinePolicy, GetAssignedSite, RequestMachinePolicy, ResetPolicy, SetAssignedSite,
# SetClientProvisioningMode, SetGlobalLoggingConfiguration and TriggerSchedule, and no
# RepairClient; community scripts call RepairClient() (it starts ccmrepair in the background,
# without a restart). So the script looks the method up on this client's class first
# (Get-CimClass, CimClassMethods) and answers "not available" when it is absent: that is
# no error. See docs/reference-additions.md.
# Parameters: none ({}).
# Result: {"available": true, "returnValue": 0}
#      or {"available": false, "reason": "SMS_Client has no RepairClient method"}
# patchnight-uses: common, cim
param($p)
$ErrorActionPreference = 'Stop'

try {
    $class = Get-CimClass -Namespace 'root\ccm' -ClassName 'SMS_Client'
} catch {
    Stop-Cim $_ 'root\ccm'
}
$method = $null
if ($null -ne $class -and $null -ne $class.CimClassMethods) {
    $method = $class.CimClassMethods | Where-Object { $_.Name -eq 'RepairClient' } | Select-Object -First 1
}
if ($null -eq $method) {
    Write-Result @{ available = $false; reason = 'SMS_Client has no RepairClient method' }
    exit 0
}
try {
    $rc = Invoke-CimMethod -Namespace 'root\ccm' -ClassName 'SMS_Client' -MethodName 'RepairClient'
} catch {
    Stop-Cim $_ 'root\ccm'
}
$rv = 0
if ($null -ne $rc -and $null -ne $rc.ReturnValue) { $rv = [int64]$rc.ReturnValue }
if ($rv -ne 0) {
    Stop-Op 'method-failed' ('RepairClient returned ' + $rv)
}
Write-Result @{ available = $true; returnValue = $rv }
