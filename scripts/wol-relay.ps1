# patchnight-op: wol-relay/1
# Relays Wake-on-LAN for patchnight (pkg/wol, relay mode): this client, awake on the same
# subnet as the sleeping machines, sends their magic packets locally, so the packets do not
# depend on routers forwarding directed broadcasts.
# Parameters: {"macs": ["00:15:5D:01:02:03", ...], "broadcast": "10.1.2.255", "port": 9,
#              "repeat": 3, "interval_ms": 20, "spacing_ms": 1000}
#   broadcast must be the directed broadcast of one of this machine's own IPv4 subnets:
#   the relay never sends anywhere else. interval_ms is the gap between packets (the
#   per-subnet cap), spacing_ms the gap between rounds.
# Packet: 6 x 0xFF then 16 x the MAC (102 bytes), UDP, from an IPv4 socket with broadcast on.
# Result: {"sent": N}
# patchnight-uses: common
param($p)
$ErrorActionPreference = 'Stop'

function Get-Int($value, [string]$name, [int]$min, [int]$max, [int]$default) {
    if ($null -eq $value) { return $default }
    $n = 0
    if (-not [int]::TryParse([string]$value, [ref]$n) -or $n -lt $min -or $n -gt $max) {
        Stop-Op 'bad-parameter' ("$name must be a whole number from $min to $max")
    }
    return $n
}

# Parameters.
$macs = @($p.macs)
if ($macs.Count -lt 1 -or $macs.Count -gt 1000) {
    Stop-Op 'bad-parameter' 'macs must list 1 to 1000 MAC addresses'
}
$port = Get-Int $p.port 'port' 1 65535 9
$repeat = Get-Int $p.repeat 'repeat' 1 10 3
$interval = Get-Int $p.interval_ms 'interval_ms' 0 10000 20
$spacing = Get-Int $p.spacing_ms 'spacing_ms' 0 60000 1000

$bcast = $null
if (-not [System.Net.IPAddress]::TryParse([string]$p.broadcast, [ref]$bcast) -or
    $bcast.AddressFamily -ne [System.Net.Sockets.AddressFamily]::InterNetwork) {
    Stop-Op 'bad-parameter' 'broadcast must be an IPv4 address'
}
$want = $bcast.GetAddressBytes()

# The broadcast must belong to one of this machine's own subnets.
$local = $false
foreach ($nic in [System.Net.NetworkInformation.NetworkInterface]::GetAllNetworkInterfaces()) {
    if ($nic.OperationalStatus -ne [System.Net.NetworkInformation.OperationalStatus]::Up) { continue }
    foreach ($ua in $nic.GetIPProperties().UnicastAddresses) {
        if ($ua.Address.AddressFamily -ne [System.Net.Sockets.AddressFamily]::InterNetwork -or $null -eq $ua.IPv4Mask) { continue }
        $ip = $ua.Address.GetAddressBytes()
        $mask = $ua.IPv4Mask.GetAddressBytes()
        if ($mask[0] -eq 0) { continue }
        $same = $true
        for ($i = 0; $i -lt 4; $i++) {
            $b = ($ip[$i] -band $mask[$i]) -bor (255 -bxor $mask[$i])
            if ($b -ne $want[$i]) { $same = $false }
        }
        if ($same) { $local = $true }
    }
}
if (-not $local) {
    Stop-Op 'not-local-subnet' ("$bcast is not the broadcast address of a subnet of this machine")
}

# Packets, built before anything is sent so that one bad MAC sends nothing.
$packets = New-Object System.Collections.Generic.List[byte[]]
foreach ($m in $macs) {
    $s = [string]$m
    if ($s -notmatch '^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$') {
        Stop-Op 'bad-parameter' 'macs must look like 00:15:5D:01:02:03'
    }
    $hw = [byte[]]($s -split '[:-]' | ForEach-Object { [Convert]::ToByte($_, 16) })
    $pkt = New-Object byte[] 102
    for ($i = 0; $i -lt 6; $i++) { $pkt[$i] = 0xFF }
    for ($r = 0; $r -lt 16; $r++) { [Array]::Copy($hw, 0, $pkt, 6 + 6 * $r, 6) }
    $packets.Add($pkt)
}

$sent = 0
$udp = New-Object System.Net.Sockets.UdpClient([System.Net.Sockets.AddressFamily]::InterNetwork)
try {
    $udp.EnableBroadcast = $true
    $ep = New-Object System.Net.IPEndPoint($bcast, $port)
    for ($round = 0; $round -lt $repeat; $round++) {
        if ($round -gt 0 -and $spacing -gt 0) { Start-Sleep -Milliseconds $spacing }
        foreach ($pkt in $packets) {
            if ($sent -gt 0 -and $interval -gt 0) { Start-Sleep -Milliseconds $interval }
            $null = $udp.Send($pkt, $pkt.Length, $ep)
            $sent++
        }
    }
} catch {
    Stop-Op 'send-failed' ([string]$_.Exception.Message)
} finally {
    $udp.Close()
}
Write-Result @{ sent = $sent }
