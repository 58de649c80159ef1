# patchnight-op: client-notify/1
# Shows a notice to the users logged on to the client (issue 7), one of two ways:
#   msg     msg.exe to each user session (session ID and /TIME:<seconds> are the only
#           arguments; the text goes to msg.exe on standard input, which it reads when no
#           message argument is given, so no quoting or % expansion ever applies to it);
#   window  a small window (notice-window.ps1, sent with the request and written to
#           %ProgramData%\patchnight) started in each user's session by a one-shot
#           scheduled task with the user as principal (LogonType Interactive). The notice
#           travels as base64 of UTF-8 JSON in the task's argument list; the window script
#           decodes it and shows it in controls that take plain text.
# The text never becomes PowerShell or markup: patchnight prepares MsgText and Payload (Go:
# pkg/notify), and this script checks them again before use.
# Parameters: {"Method": "msg"|"window", "Title": "...", "Text": "...", "Organisation": "...",
#   "Contact": "...", "TimeoutSeconds": 900, "MsgText": "..." (msg),
#   "Payload": "<base64>" and "WindowScript": "<base64 of notice-window.ps1>" (window)}
# Result: {"delivered": true, "users": ["CONTOSO\\ann"], "method": "window"}, or
#   {"delivered": false, "users": [], "reason": "nobody-logged-on", "method": "msg"}.
#   Reasons: nobody-logged-on, msg-failed, task-did-not-start.
# patchnight-uses: common
param($p)
$ErrorActionPreference = 'Stop'

# The checks mirror pkg/notify: plain text has no control characters but TAB, CR and LF;
# the payload is standard padded base64 and nothing else.
$controlPattern = '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]'
$base64Pattern = '^[A-Za-z0-9+/]+={0,2}$'
$maxMsg = 2400
$maxPayload = 16000
$taskPath = '\patchnight\notices\'

$method = [string]$p.Method
if ($method -ne 'msg' -and $method -ne 'window') { Stop-Op 'bad-parameter' ('unknown method: ' + $method) }
$timeout = 0
if (-not [int]::TryParse([string]$p.TimeoutSeconds, [ref]$timeout) -or $timeout -lt 10 -or $timeout -gt 86400) {
    Stop-Op 'bad-parameter' 'TimeoutSeconds must be a whole number from 10 to 86400'
}

# The interactive sessions: the owners of explorer.exe (DOMAIN\user) by session ID.
# Session 0 has no desktop.
function Get-PnUserSessions {
    $out = @()
    $seen = @{}
    foreach ($pr in @(Get-CimInstance -ClassName 'Win32_Process' -Filter "Name='explorer.exe'")) {
        $sid = [int]$pr.SessionId
        if ($sid -le 0 -or $seen.ContainsKey($sid)) { continue }
        $o = Invoke-CimMethod -InputObject $pr -MethodName 'GetOwner'
        if ($null -eq $o -or [int64]$o.ReturnValue -ne 0 -or [string]$o.User -eq '') { continue }
        $seen[$sid] = $true
        $out += [pscustomobject]@{ Session = $sid; User = ([string]$o.Domain + '\' + [string]$o.User) }
    }
    return $out
}

function Send-PnMsg([int]$session, [string]$text) {
    $msgExe = Join-Path $env:SystemRoot 'System32\msg.exe'
    if (-not (Test-Path -LiteralPath $msgExe)) { return 'msg.exe is not on this computer' }
    $psi = New-Object System.Diagnostics.ProcessStartInfo
    $psi.FileName = $msgExe
    # Two integers, nothing else: the session ID and the display time.
    $psi.Arguments = ([string]$session) + ' /TIME:' + ([string]$timeout)
    $psi.UseShellExecute = $false
    $psi.RedirectStandardInput = $true
    $psi.RedirectStandardOutput = $true
    $psi.RedirectStandardError = $true
    $psi.CreateNoWindow = $true
    $proc = [System.Diagnostics.Process]::Start($psi)
    $proc.StandardInput.Write($text)
    $proc.StandardInput.Close()
    if (-not $proc.WaitForExit(30000)) {
        try { $proc.Kill() } catch { }
        return 'msg.exe did not finish'
    }
    if ($proc.ExitCode -ne 0) { return ('msg.exe exit code ' + [string]$proc.ExitCode + ': ' + $proc.StandardError.ReadToEnd().Trim()) }
    return ''
}

function Install-PnWindowScript([string]$encoded) {
    if ($encoded -notmatch $base64Pattern) { Stop-Op 'bad-parameter' 'WindowScript is not base64' }
    $text = (New-Object System.Text.UTF8Encoding $false).GetString([Convert]::FromBase64String($encoded))
    if (-not $text.StartsWith('# patchnight-op: notice-window/')) { Stop-Op 'bad-parameter' 'WindowScript is not the notice window script' }
    $dir = Join-Path $env:ProgramData 'patchnight'
    if (-not (Test-Path -LiteralPath $dir)) { $null = New-Item -ItemType Directory -Path $dir }
    $file = Join-Path $dir 'notice-window.ps1'
    # Written only when it changed: a window still showing may have it open.
    $same = $false
    if (Test-Path -LiteralPath $file) { $same = ([System.IO.File]::ReadAllText($file) -ceq $text) }
    if (-not $same) { [System.IO.File]::WriteAllText($file, $text, (New-Object System.Text.UTF8Encoding $true)) }
    return $file
}

# Finished notice tasks of earlier runs: a task still showing its window is left alone and
# expires by itself (EndBoundary + DeleteExpiredTaskAfter).
function Remove-PnOldTasks {
    foreach ($t in @(Get-ScheduledTask -TaskPath $taskPath -ErrorAction SilentlyContinue)) {
        if ([string]$t.State -ne 'Running') {
            Unregister-ScheduledTask -TaskName $t.TaskName -TaskPath $taskPath -Confirm:$false -ErrorAction SilentlyContinue
        }
    }
}

function Start-PnWindowTask([string]$user, [string]$file, [string]$payload) {
    $name = 'notice-' + [guid]::NewGuid().ToString('N')
    $ps = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
    # The script path is patchnight's own; the payload is base64 (checked above), so the
    # argument list needs no quoting beyond the path.
    $arguments = '-NoProfile -NonInteractive -ExecutionPolicy Bypass -WindowStyle Hidden -File "' + $file + '" ' + $payload
    $action = New-ScheduledTaskAction -Execute $ps -Argument $arguments
    $principal = New-ScheduledTaskPrincipal -UserId $user -LogonType Interactive -RunLevel Limited
    # A trigger in the past that never fires; its end lets the task delete itself.
    $now = Get-Date
    $trigger = New-ScheduledTaskTrigger -Once -At $now.AddMinutes(-1)
    $trigger.EndBoundary = $now.AddSeconds($timeout + 600).ToString('s')
    $settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Seconds ($timeout + 300)) `
        -DeleteExpiredTaskAfter (New-TimeSpan -Seconds 0) -AllowStartIfOnBatteries -DontStopIfGoingOnBatteries `
        -MultipleInstances IgnoreNew
    $null = Register-ScheduledTask -TaskName $name -TaskPath $taskPath -Action $action -Principal $principal `
        -Trigger $trigger -Settings $settings -Force
    Start-ScheduledTask -TaskName $name -TaskPath $taskPath
    # Wait (at most 20 s) until the task runs or has run; 267011 = SCHED_S_TASK_HAS_NOT_RUN.
    $started = $false
    $running = $false
    for ($i = 0; $i -lt 40 -and -not $started; $i++) {
        $t = Get-ScheduledTask -TaskName $name -TaskPath $taskPath
        $info = Get-ScheduledTaskInfo -TaskName $name -TaskPath $taskPath
        if ([string]$t.State -eq 'Running') { $started = $true; $running = $true }
        elseif ([int64]$info.LastTaskResult -ne 267011 -and $info.LastRunTime -ge $now.AddSeconds(-5)) { $started = $true }
        else { Start-Sleep -Milliseconds 500 }
    }
    # A task that is not running any more is removed now; a running one is left to show its
    # window (whether unregistering would end it is unconfirmed) and removed later.
    if (-not $running) {
        Unregister-ScheduledTask -TaskName $name -TaskPath $taskPath -Confirm:$false -ErrorAction SilentlyContinue
    }
    return $started
}

$sessions = @(Get-PnUserSessions)
if ($sessions.Count -eq 0) {
    Write-Result @{ delivered = $false; users = @(); reason = 'nobody-logged-on'; method = $method }
    exit 0
}

$users = @()
$reason = ''
if ($method -eq 'msg') {
    $text = [string]$p.MsgText
    if ($text -eq '' -or $text.Length -gt $maxMsg -or $text -match $controlPattern) {
        Stop-Op 'bad-parameter' 'MsgText is empty, too long or holds control characters'
    }
    foreach ($s in $sessions) {
        $err = Send-PnMsg $s.Session $text
        if ($err -eq '') { $users += $s.User } elseif ($reason -eq '') { $reason = 'msg-failed' }
    }
} else {
    $payload = [string]$p.Payload
    if ($payload.Length -gt $maxPayload -or $payload -notmatch $base64Pattern) { Stop-Op 'bad-parameter' 'Payload is not base64 of a notice' }
    $file = Install-PnWindowScript ([string]$p.WindowScript)
    Remove-PnOldTasks
    $done = @{}
    foreach ($s in $sessions) {
        if ($done.ContainsKey($s.User)) { continue }
        $done[$s.User] = $true
        if (Start-PnWindowTask $s.User $file $payload) { $users += $s.User } elseif ($reason -eq '') { $reason = 'task-did-not-start' }
    }
}

if ($users.Count -gt 0) {
    Write-Result @{ delivered = $true; users = @($users); method = $method }
} else {
    Write-Result @{ delivered = $false; users = @(); reason = $reason; method = $method }
}
