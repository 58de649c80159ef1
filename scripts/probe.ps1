# patchnight-op: probe/2
# Answers that the host is up and reachable over WinRM, with its name and last boot, and
# what `patchnight doctor` checks on a client: the PowerShell version and language mode,
# the effective execution policy and the scope it comes from, the ConfigMgr client and its
# version, the nonce it was sent (a stdin round trip: the parameters travel on stdin) and
# its clock. Only reads.
# Parameters: {"Nonce": "..."} (optional).
# Result: {"computer": "PC-00042", "lastBoot": "2026-12-08T18:04:11Z", "nonce": "...",
#   "psVersion": "5.1.19041.4522", "languageMode": "FullLanguage",
#   "executionPolicy": "RemoteSigned", "executionPolicyScope": "LocalMachine",
#   "client": true, "clientVersion": "5.00.9128.1000", "utcNow": "2026-12-08T18:10:02Z"}
# patchnight-uses: common
param($p)
$ErrorActionPreference = 'Stop'
$inv = [Globalization.CultureInfo]::InvariantCulture
$boot = $null
try {
    $os = Get-CimInstance -ClassName Win32_OperatingSystem
    $boot = $os.LastBootUpTime.ToUniversalTime().ToString('yyyy-MM-ddTHH:mm:ssZ', $inv)
} catch {
    $boot = $null
}
$nonce = ''
if ($null -ne $p -and $null -ne $p.Nonce) { $nonce = [string]$p.Nonce }

# The effective policy is the first scope, in precedence order, that is not Undefined.
$policy = [string](Get-ExecutionPolicy)
$scope = ''
try {
    foreach ($e in @(Get-ExecutionPolicy -List)) {
        if ([string]$e.ExecutionPolicy -ne 'Undefined') { $scope = [string]$e.Scope; break }
    }
} catch {
    $scope = ''
}

$client = $false
$clientVersion = ''
try {
    $c = Get-CimInstance -Namespace 'root\ccm' -ClassName SMS_Client
    if ($null -ne $c) {
        $client = $true
        $clientVersion = [string]$c.ClientVersion
    }
} catch {
    $client = $false
}

Write-Result @{
    computer = [string]$env:COMPUTERNAME; lastBoot = $boot; nonce = $nonce
    psVersion = [string]$PSVersionTable.PSVersion
    languageMode = [string]$ExecutionContext.SessionState.LanguageMode
    executionPolicy = $policy; executionPolicyScope = $scope
    client = $client; clientVersion = $clientVersion
    utcNow = [DateTime]::UtcNow.ToString('yyyy-MM-ddTHH:mm:ssZ', $inv)
}
