# patchnight-op: client-logged-on/1
# Who is logged on to the client right now: console and remote (RDP) sessions, including
# disconnected ones, from quser.exe (configmgr.md section 6, "Who is logged on").
# Parameters: none ({}).
# Result: {"source": "quser", "count": 1, "active": 1,
#          "sessions": [{"user": "jdoe", "session": "console", "id": 1, "kind": "console",
#                        "state": "Active", "idle": "none", "logonTime": "1/13/2026 8:02 AM"}]}
#   kind: console | remote | disconnected | unknown; state, idle and logonTime as quser
#   prints them (localised).
# patchnight-uses: common, sessions
param($p)
$ErrorActionPreference = 'Stop'

$r = Get-PnSessions
$active = @($r.sessions | Where-Object { $_.kind -ne 'disconnected' }).Count
Write-Result @{ source = $r.source; count = @($r.sessions).Count; active = $active; sessions = @($r.sessions) }
