# patchnight-op: client-notify/1
# Shows a notice to the users logged on to the client (issue 7), one of two ways:
#   msg     msg.exe to each user session (session ID and /TIME:<seconds> are the only
#           arguments; the text goes to msg.exe on standard input, which it reads when no
#           message argument is given, so no quoting or % expansion ever applies to it);
#   window  a small window (notice-window.ps1, sent with the request and written to
#           %ProgramData%\patchnight) started in each user's session by a one-shot
#           scheduled task with the user as principal (LogonType Interactive). The task
#           runs powershell.exe -EncodedCommand with a short launcher patchnight built
#           (WindowCommand; no -File, no -ExecutionPolicy, which Group Policy overrides and
#           AllSigned estates refuse): the launcher runs the window script only if its
#           SHA-256 is the one it carries, and hands it the notice, base64 of UTF-8 JSON,
#           which this script writes to %ProgramData%\patchnight\notices\<NoticeID>.txt
#           (window script and notice together exceed the 8191-character command line).
#           Both folders are changeable by SYSTEM and Administrators only; a notice file is
#           readable by the users it is for.
# The text never becomes PowerShell or markup: patchnight prepares MsgText and Payload (Go:
# pkg/notify), and this script checks them again before use.
# Parameters: {"Method": "msg"|"window", "Title": "...", "Text": "...", "Organisation": "...",
#   "Contact": "...", "TimeoutSeconds": 900, "MsgText": "..." (msg),
#   "Payload": "<base64>", "WindowScript": "<base64 of notice-window.ps1>",
#   "NoticeID": "<32 hex digits>", "WindowCommand": "<the task's arguments>" (window)}
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
$maxCommandLine = 8191
$taskPath = '\patchnight\notices\'
$launcherOptions = '-NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand '

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

function New-PnRule($who, $rights, [bool]$dir) {
    $inherit = [System.Security.AccessControl.InheritanceFlags]::None
    if ($dir) { $inherit = [System.Security.AccessControl.InheritanceFlags]'ContainerInherit, ObjectInherit' }
    return New-Object System.Security.AccessControl.FileSystemAccessRule($who, $rights, $inherit,
        [System.Security.AccessControl.PropagationFlags]::None, [System.Security.AccessControl.AccessControlType]::Allow)
}

# An ACL of its own (nothing inherited): SYSTEM and Administrators full control, the
# readers (SIDs or DOMAIN\user accounts) read only.
function Set-PnAcl([string]$path, [bool]$dir, $readers) {
    if ($dir) { $acl = New-Object System.Security.AccessControl.DirectorySecurity } else { $acl = New-Object System.Security.AccessControl.FileSecurity }
    $acl.SetAccessRuleProtection($true, $false)
    foreach ($sid in @('S-1-5-18', 'S-1-5-32-544')) {
        $acl.AddAccessRule((New-PnRule (New-Object System.Security.Principal.SecurityIdentifier $sid) ([System.Security.AccessControl.FileSystemRights]::FullControl) $dir))
    }
    foreach ($r in @($readers)) {
        $acl.AddAccessRule((New-PnRule $r ([System.Security.AccessControl.FileSystemRights]::ReadAndExecute) $dir))
    }
    if ($dir) { [System.IO.Directory]::SetAccessControl($path, $acl) } else { [System.IO.File]::SetAccessControl($path, $acl) }
}

function Get-PnSha256([string]$text) {
    $h = New-Object System.Security.Cryptography.SHA256Managed
    $b = (New-Object System.Text.UTF8Encoding $false).GetBytes($text)
    return [System.BitConverter]::ToString($h.ComputeHash($b)).Replace('-', '').ToLowerInvariant()
}

# Writes the window script (and the folders) and returns its text.
function Install-PnWindowScript([string]$encoded) {
    if ($encoded -notmatch $base64Pattern) { Stop-Op 'bad-parameter' 'WindowScript is not base64' }
    $text = (New-Object System.Text.UTF8Encoding $false).GetString([Convert]::FromBase64String($encoded))
    if (-not $text.StartsWith('# patchnight-op: notice-window/')) { Stop-Op 'bad-parameter' 'WindowScript is not the notice window script' }
    $dir = Join-Path $env:ProgramData 'patchnight'
    if (-not (Test-Path -LiteralPath $dir)) { $null = New-Item -ItemType Directory -Path $dir }
    # Users may read what is here, not change it (ProgramData lets them create files).
    Set-PnAcl $dir $true @(New-Object System.Security.Principal.SecurityIdentifier 'S-1-5-32-545')
    $notices = Join-Path $dir 'notices'
    if (-not (Test-Path -LiteralPath $notices)) { $null = New-Item -ItemType Directory -Path $notices }
    Set-PnAcl $notices $true @()
    $file = Join-Path $dir 'notice-window.ps1'
    # Written only when it changed: a window still showing may have it open.
    $same = $false
    if (Test-Path -LiteralPath $file) { $same = ([System.IO.File]::ReadAllText($file) -ceq $text) }
    if (-not $same) { [System.IO.File]::WriteAllText($file, $text, (New-Object System.Text.UTF8Encoding $true)) }
    return $text
}

# The task's arguments: the fixed options and the UTF-16LE base64 of the launcher, which
# must name this notice and the window script's hash, within the command-line limit.
function Test-PnWindowCommand([string]$command, [string]$id, [string]$scriptText, [string]$exe) {
    if ($id -notmatch '^[0-9a-f]{32}$') { Stop-Op 'bad-parameter' 'NoticeID is not 32 hex digits' }
    if (-not $command.StartsWith($launcherOptions, [StringComparison]::Ordinal)) { Stop-Op 'bad-parameter' 'WindowCommand is not the notice launcher' }
    $enc = $command.Substring($launcherOptions.Length)
    if ($enc -notmatch $base64Pattern) { Stop-Op 'bad-parameter' 'WindowCommand is not the notice launcher' }
    if ($exe.Length + 1 + $command.Length -gt $maxCommandLine) { Stop-Op 'bad-parameter' 'WindowCommand is too long for a command line' }
    $launcher = [System.Text.Encoding]::Unicode.GetString([Convert]::FromBase64String($enc))
    $names = $launcher.Contains("'notices\" + $id + ".txt'") -and $launcher.Contains("'" + (Get-PnSha256 $scriptText) + "'")
    if (-not $launcher.StartsWith('# patchnight notice launcher/') -or -not $names) {
        Stop-Op 'bad-parameter' 'WindowCommand does not launch this notice with this window script'
    }
}

# Finished notice tasks of earlier runs: a task still showing its window is left alone and
# expires by itself (EndBoundary + DeleteExpiredTaskAfter).
function Remove-PnOldTasks {
    $left = @{}
    foreach ($t in @(Get-ScheduledTask -TaskPath $taskPath -ErrorAction SilentlyContinue)) {
        if ([string]$t.State -ne 'Running') {
            Unregister-ScheduledTask -TaskName $t.TaskName -TaskPath $taskPath -Confirm:$false -ErrorAction SilentlyContinue
        } else {
            $left[([string]$t.TaskName).Split('-')[1]] = $true
        }
    }
    # The notice files no running task needs any more.
    $notices = Join-Path (Join-Path $env:ProgramData 'patchnight') 'notices'
    foreach ($f in @(Get-ChildItem -LiteralPath $notices -Filter '*.txt' -ErrorAction SilentlyContinue)) {
        if (-not $f.PSIsContainer -and -not $left.ContainsKey($f.BaseName)) { Remove-Item -LiteralPath $f.FullName -Force -ErrorAction SilentlyContinue }
    }
}

function Start-PnWindowTask([string]$user, [string]$name, [string]$arguments) {
    # -EncodedCommand with patchnight's launcher (checked above): no -File, no -ExecutionPolicy.
    $action = New-ScheduledTaskAction -Execute $exe -Argument $arguments
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

$exe = Join-Path $env:SystemRoot 'System32\WindowsPowerShell\v1.0\powershell.exe'
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
    $id = [string]$p.NoticeID
    $arguments = [string]$p.WindowCommand
    $scriptText = Install-PnWindowScript ([string]$p.WindowScript)
    Test-PnWindowCommand $arguments $id $scriptText $exe
    Remove-PnOldTasks
    # The notice, readable only by the users it is for.
    $readers = @()
    $done = @{}
    foreach ($s in $sessions) {
        if (-not $done.ContainsKey($s.User)) { $done[$s.User] = $true; $readers += New-Object System.Security.Principal.NTAccount $s.User }
    }
    $noticeFile = Join-Path (Join-Path (Join-Path $env:ProgramData 'patchnight') 'notices') ($id + '.txt')
    [System.IO.File]::WriteAllText($noticeFile, $payload, (New-Object System.Text.UTF8Encoding $false))
    Set-PnAcl $noticeFile $false $readers
    $done = @{}
    $n = 0
    foreach ($s in $sessions) {
        if ($done.ContainsKey($s.User)) { continue }
        $done[$s.User] = $true
        # One task per user, named after the notice (its file goes when no task runs for it).
        $n++
        if (Start-PnWindowTask $s.User ('notice-' + $id + '-' + [string]$n) $arguments) { $users += $s.User } elseif ($reason -eq '') { $reason = 'task-did-not-start' }
    }
}

if ($users.Count -gt 0) {
    Write-Result @{ delivered = $true; users = @($users); method = $method }
} else {
    Write-Result @{ delivered = $false; users = @(); reason = $reason; method = $method }
}
