# patchnight-op: probe/1
# Answers that the host is up and reachable over WinRM, with its name and last boot.
# Parameters: none. Result: {"computer": "PC-00042", "lastBoot": "2026-12-08T18:04:11Z"}
# patchnight-uses: common
param($p)
$ErrorActionPreference = 'Stop'
$boot = $null
try {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $boot = $os.LastBootUpTime.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', [Globalization.CultureInfo]::InvariantCulture)
} catch {
    $boot = $null
}
Write-Result @{ computer = [string]$env:COMPUTERNAME; lastBoot = $boot }
