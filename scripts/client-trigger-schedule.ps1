# patchnight-op: client-trigger-schedule/1
# Starts one ConfigMgr client schedule: root\ccm SMS_Client.TriggerSchedule(sScheduleID).
# Parameters: {"ScheduleID": "{00000000-0000-0000-0000-000000000NNN}"}; 113 = software update
# scan, 108 = software update deployment evaluation, 021 = machine policy retrieval
# (configmgr.md section 6). Optional "SendStateMessages": true then also triggers
# {00000000-0000-0000-0000-000000000111} (send unsent state messages) in the same run, so a
# scan's result reaches the site without waiting for the state message reporting cycle
# (configmgr.md section 12). The scan itself runs on after TriggerSchedule returns: 111
# sends what is unsent at that moment.
# Result: {"scheduleId": "{...}", "returnValue": 0, "stateMessagesSent": true|false}
# patchnight-uses: common, cim
param($p)
$ErrorActionPreference = 'Stop'

$id = [string]$p.ScheduleID
if ($id -notmatch '^\{00000000-0000-0000-0000-000000000[0-9]{3}\}$') {
    Stop-Op 'bad-parameter' 'ScheduleID must look like {00000000-0000-0000-0000-000000000NNN}'
}
try {
    $r = Invoke-CimMethod -Namespace 'root\ccm' -ClassName 'SMS_Client' -MethodName 'TriggerSchedule' -Arguments @{ sScheduleID = $id }
} catch {
    Stop-Cim $_ 'root\ccm'
}
$rv = 0
if ($null -ne $r -and $null -ne $r.ReturnValue) { $rv = [int64]$r.ReturnValue }
if ($rv -ne 0) {
    Stop-Op 'method-failed' ('TriggerSchedule returned ' + $rv)
}
$sent = $false
if ($null -ne $p.SendStateMessages) {
    if ($p.SendStateMessages -isnot [bool]) { Stop-Op 'bad-parameter' 'SendStateMessages must be true or false' }
    if ($p.SendStateMessages) {
        try {
            $r2 = Invoke-CimMethod -Namespace 'root\ccm' -ClassName 'SMS_Client' -MethodName 'TriggerSchedule' -Arguments @{ sScheduleID = '{00000000-0000-0000-0000-000000000111}' }
        } catch {
            Stop-Cim $_ 'root\ccm'
        }
        if ($null -ne $r2 -and $null -ne $r2.ReturnValue -and [int64]$r2.ReturnValue -ne 0) {
            Stop-Op 'method-failed' ('TriggerSchedule (send state messages) returned ' + [int64]$r2.ReturnValue)
        }
        $sent = $true
    }
}
Write-Result @{ scheduleId = $id; returnValue = $rv; stateMessagesSent = $sent }
