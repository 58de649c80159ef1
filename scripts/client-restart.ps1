# patchnight-op: client-restart/1
# Restarts the client through the ConfigMgr client:
# root\ccm\ClientSDK CCM_ClientUtilities.RestartComputer (configmgr.md section 6; whether it
# honours the client's restart notification settings is unconfirmed).
# Parameters: {"OnlyIfNobodyLoggedOn": true} optional: do nothing when any session, even a
# disconnected one, exists (sessions as in client-logged-on).
# Result: {"restarted": true, "returnValue": 0}
#      or {"restarted": false, "reason": "users-logged-on", "users": ["jdoe"]}
param($p)
$ErrorActionPreference = 'Stop'

function Write-Result($o) { [Console]::Out.WriteLine(($o | ConvertTo-Json -Compress -Depth 5)) }
function Stop-Op([string]$code, [string]$message) {
    Write-Result @{ error = @{ code = $code; message = $message } }
    exit 1
}
function Stop-Cim($err) {
    $x = $err.Exception
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'InvalidNamespace') {
        Stop-Op 'no-client' 'the ConfigMgr client is not installed (WMI namespace root\ccm\ClientSDK is missing)'
    }
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'AccessDenied') {
        Stop-Op 'access-denied' ('access denied: ' + $x.Message)
    }
    Stop-Op 'cim' ([string]$x.Message)
}

# Live sessions: quser.exe lists console and remote (RDP) sessions, disconnected ones too.
# Its words are localised and user names may hold spaces, so the parse keys on the header's
# column positions: user name from column 1 up to the second header word, session name up to
# the session ID, whose digits sit under the third header word (ID); then state, idle time
# and logon time as printed. A session without a name is disconnected. quser writes
# "No User exists" to stderr and exits 1 when nobody is logged on. Without quser.exe the
# owners of explorer.exe processes stand in (kind unknown).
function Get-PnSessions {
    $sessions = @()
    $quser = Join-Path $env:SystemRoot 'System32\quser.exe'
    if (-not (Test-Path -LiteralPath $quser)) {
        foreach ($pr in @(Get-CimInstance -ClassName 'Win32_Process' -Filter "Name='explorer.exe'")) {
            $o = Invoke-CimMethod -InputObject $pr -MethodName 'GetOwner'
            if ($null -ne $o -and [int64]$o.ReturnValue -eq 0) {
                $sessions += [ordered]@{ user = ([string]$o.Domain + '\' + [string]$o.User); session = ''; id = [int]$pr.SessionId; kind = 'unknown'; state = ''; idle = ''; logonTime = '' }
            }
        }
        return @{ source = 'explorer'; sessions = $sessions }
    }
    $lines = @(& { $ErrorActionPreference = 'Continue'; & $quser 2>$null } | ForEach-Object { [string]$_ } | Where-Object { $_.Trim() -ne '' })
    if ($lines.Count -lt 2) { return @{ source = 'quser'; sessions = $sessions } }
    $hdr = [regex]::Matches($lines[0], '\S+')
    if ($hdr.Count -lt 3) { Stop-Op 'parse' ('unexpected quser header: ' + $lines[0].Trim()) }
    $sessAt = $hdr[1].Index
    $idAt = $hdr[2].Index
    $idEnd = $hdr[2].Index + $hdr[2].Length
    for ($i = 1; $i -lt $lines.Count; $i++) {
        $line = $lines[$i]
        $id = $null
        foreach ($m in [regex]::Matches($line, '(?<=\s)[0-9]+(?=\s|$)')) {
            if ($m.Index -lt ($idEnd + 2) -and ($m.Index + $m.Length) -gt ($idAt - 2) -and $m.Index -gt 1) { $id = $m; break }
        }
        if ($null -eq $id) { continue }
        $user = $line.Substring(1, [Math]::Max(0, [Math]::Min($sessAt, $id.Index) - 1)).Trim()
        $name = ''
        if ($id.Index -gt $sessAt) { $name = $line.Substring($sessAt, $id.Index - $sessAt).Trim() }
        $tail = @($line.Substring($id.Index + $id.Length).Trim() -split '\s+', 3)
        $kind = 'remote'
        if ($name -eq '') { $kind = 'disconnected' } elseif ($name -ieq 'console') { $kind = 'console' }
        $sessions += [ordered]@{
            user      = $user
            session   = $name
            id        = [int]$id.Value
            kind      = $kind
            state     = $(if ($tail.Count -gt 0) { $tail[0] } else { '' })
            idle      = $(if ($tail.Count -gt 1) { $tail[1] } else { '' })
            logonTime = $(if ($tail.Count -gt 2) { $tail[2] } else { '' })
        }
    }
    return @{ source = 'quser'; sessions = $sessions }
}

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
