# patchnight-lib: cim
# Stop-Cim turns a CIM failure on the ConfigMgr client's namespaces (root\ccm\ClientSDK) into
# the script's one error object: no client (the namespace is missing), access denied, or the
# CIM message. For the scripts that name this library in a "# patchnight-uses:" line after
# common (scripts.Get inserts both after their param block).
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
