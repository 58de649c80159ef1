# patchnight-lib: provider
# What the SMS Provider scripts share, for the scripts that name this library in a
# "# patchnight-uses:" line after common (scripts.Get inserts both after their param
# block): the site's namespace root\sms\site_<SiteCode> from a checked SiteCode, the one
# error object for a CIM failure on it (no provider, access denied, or the CIM message),
# and times as UTC ISO 8601 text.
function Get-PnSiteNamespace($p) {
    $site = [string]$p.SiteCode
    if ($site -notmatch '^[A-Za-z0-9]{3}$') { Stop-Op 'bad-parameter' 'SiteCode must be three letters or digits' }
    return 'root\sms\site_' + $site
}
function Stop-ProviderCim($err, [string]$ns, [string]$denied) {
    $x = $err.Exception
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'InvalidNamespace') {
        Stop-Op 'no-provider' ('the SMS Provider namespace ' + $ns + ' does not exist on this host')
    }
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'AccessDenied') {
        Stop-Op 'access-denied' ($denied + $x.Message)
    }
    Stop-Op 'cim' ([string]$x.Message)
}
function Format-PnTime($t) {
    if ($null -eq $t) { return $null }
    return ([datetime]$t).ToUniversalTime().ToString('yyyy-MM-dd\THH:mm:ss\Z', [Globalization.CultureInfo]::InvariantCulture)
}
