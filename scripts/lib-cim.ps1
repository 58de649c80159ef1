# patchnight-lib: cim
# Stop-Cim turns a CIM failure on a ConfigMgr client namespace (root\ccm\ClientSDK unless the
# caller names another, such as root\ccm) into the script's one error object: no client (the
# namespace is missing), access denied, or the CIM message. Get-PnArticleIDs reads the
# optional ArticleIDs parameter (KB numbers, with or without "KB") as bare numbers, or stops
# with bad-parameter. For the scripts that name this library in a "# patchnight-uses:" line
# after common (scripts.Get inserts both after their param block).
function Stop-Cim($err, [string]$ns = 'root\ccm\ClientSDK') {
    $x = $err.Exception
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'InvalidNamespace') {
        Stop-Op 'no-client' ('the ConfigMgr client is not installed (WMI namespace ' + $ns + ' is missing)')
    }
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'AccessDenied') {
        Stop-Op 'access-denied' ('access denied: ' + $x.Message)
    }
    Stop-Op 'cim' ([string]$x.Message)
}
function Get-PnArticleIDs($p) {
    $only = @()
    if ($null -ne $p -and $null -ne $p.ArticleIDs) {
        foreach ($a in @($p.ArticleIDs)) {
            $s = [string]$a
            if ($s -notmatch '^(KB)?[0-9]{1,10}$') { Stop-Op 'bad-parameter' 'ArticleIDs must be KB numbers such as 5034441' }
            $only += ($s -replace '^KB', '')
        }
    }
    return $only
}
