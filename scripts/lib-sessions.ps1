# patchnight-lib: sessions
# Get-PnSessions, for the scripts that name this library in a "# patchnight-uses:" line
# (scripts.Get inserts it after their param block).
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
