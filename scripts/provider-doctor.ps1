# patchnight-op: provider-doctor/2
# Read-only check of the SMS Provider for `patchnight doctor`: the provider locations
# (root\sms:SMS_ProviderLocation), whether the namespace root\sms\site_<SiteCode> is present
# on this host, the collections patchnight owns (comment ending with an owner tag
# "[patchnight:...]"), and whether the account may create collections and change the owned
# ones, asked through SMS_RbacSecuredObject.UserHasPermissions (documented in the SDK as
# "true if the current user has all the requested rights to the given object"). The
# permission bit values (READ 1, MODIFY 2, DELETE 4, CREATE 1024) are those documented for
# SMS_SecuredObject; that the RBAC method takes the same values is unconfirmed, so an
# answer it cannot give is reported, never guessed. And the objects in console folders of
# ObjectType 5000 (SMS_ObjectContainerItem), each looked up as a collection: patchnight
# creates and moves its folders with ObjectType 5000, the community's value for device
# collection folders, absent from Microsoft's ObjectType table (unconfirmed); device
# collections (CollectionType 2) in those folders are the site's evidence. Nothing is written.
# Parameters: {"SiteCode": "ABC", "MaxOwned": 50, "MaxFolderItems": 20}
# Result: {"providers": [{"machine", "siteCode", "namespacePath", "forLocalSite"}],
#   "namespace": "root\\sms\\site_ABC", "namespacePresent": true,
#   "owned": [{"collectionId", "name", "canModify": true|false|null}], "ownedTotal": 3,
#   "canCreate": true|false|null, "permissionError": "",
#   "folderItems": [{"instanceKey", "collectionType": 2|1|null}], "folderTotal": 12,
#   "folderError": ""}
# patchnight-uses: common, provider
param($p)
$ErrorActionPreference = 'Stop'

$ns = Get-PnSiteNamespace $p
$max = 50
if ($null -ne $p.MaxOwned) { $max = [int]$p.MaxOwned }
$maxItems = 20
if ($null -ne $p.MaxFolderItems) { $maxItems = [int]$p.MaxFolderItems }
$idPattern = '^[A-Z0-9]{3}[0-9A-F]{5}$'

$providers = New-Object 'System.Collections.Generic.List[object]'
try {
    foreach ($l in @(Get-CimInstance -Namespace 'root\sms' -ClassName SMS_ProviderLocation)) {
        $providers.Add(@{ machine = [string]$l.Machine; siteCode = [string]$l.SiteCode;
            namespacePath = [string]$l.NamespacePath; forLocalSite = [bool]$l.ProviderForLocalSite })
    }
} catch {
    $x = $_.Exception
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'InvalidNamespace') {
        Stop-Op 'no-provider' 'root\sms does not exist on this host: it is not an SMS Provider'
    }
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'AccessDenied') {
        Stop-Op 'access-denied' ('reading root\sms:SMS_ProviderLocation: access denied: ' + $x.Message)
    }
    Stop-Op 'cim' ('reading root\sms:SMS_ProviderLocation: ' + [string]$x.Message)
}

$present = $true
try {
    $null = Get-CimClass -Namespace $ns -ClassName SMS_Collection
} catch {
    $x = $_.Exception
    if ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'InvalidNamespace') {
        $present = $false
    } elseif ($x -is [Microsoft.Management.Infrastructure.CimException] -and [string]$x.NativeErrorCode -eq 'AccessDenied') {
        Stop-Op 'access-denied' ('reading ' + $ns + ': access denied: ' + $x.Message)
    } else {
        Stop-Op 'cim' ('reading ' + $ns + ': ' + [string]$x.Message)
    }
}
if (-not $present) {
    Write-Result @{ providers = $providers.ToArray(); namespace = $ns; namespacePresent = $false;
        owned = @(); ownedTotal = 0; canCreate = $null; permissionError = '';
        folderItems = @(); folderTotal = 0; folderError = '' }
    exit 0
}

# State the functions below change: an object, as they run in scopes of their own.
$state = @{ permErr = ''; folderErr = '' }
function Test-PnPermission([string]$path, [uint32]$bits) {
    try {
        $r = Invoke-CimMethod -Namespace $ns -ClassName SMS_RbacSecuredObject -MethodName UserHasPermissions -Arguments @{
            ObjectPath = $path; Permissions = $bits }
        if ($null -eq $r -or $null -eq $r.ReturnValue) { return $null }
        return [bool]$r.ReturnValue
    } catch {
        $state.permErr = 'SMS_RbacSecuredObject.UserHasPermissions: ' + [string]$_.Exception.Message
        return $null
    }
}

# Owned collections: the owner tag is matched in WQL with [[] for the literal bracket.
$owned = New-Object 'System.Collections.Generic.List[object]'
$total = 0
$filter = "Comment LIKE '%[[]patchnight:%'"
$props = @('CollectionID', 'Name', 'Comment')
$found = @(Get-CimInstance -Namespace $ns -ClassName SMS_Collection -Filter $filter -Property $props)
foreach ($c in $found) {
    if (-not ([string]$c.Comment).TrimEnd().EndsWith(']')) { continue }
    $total++
    if ($owned.Count -ge $max) { continue }
    $id = [string]$c.CollectionID
    $can = $null
    if ($id -match $idPattern) {
        $can = Test-PnPermission ('SMS_Collection.CollectionID="' + $id + '"') ([uint32](1 + 2 + 4))
    }
    $owned.Add(@{ collectionId = $id; name = [string]$c.Name; canModify = $can })
}
$create = Test-PnPermission 'SMS_Collection' ([uint32](1 + 2 + 1024))

# Objects in folders of ObjectType 5000, each looked up as a collection by its checked ID;
# collectionType is null when the key is no collection.
$items = New-Object 'System.Collections.Generic.List[object]'
$itemTotal = 0
try {
    foreach ($i in @(Get-CimInstance -Namespace $ns -ClassName SMS_ObjectContainerItem -Filter 'ObjectType = 5000')) {
        $itemTotal++
        if ($items.Count -ge $maxItems) { continue }
        $key = [string]$i.InstanceKey
        $type = $null
        if ($key -match $idPattern) {
            $c = @(Get-CimInstance -Namespace $ns -ClassName SMS_Collection -Filter ("CollectionID = '" + $key + "'") -Property @('CollectionID', 'CollectionType'))
            if ($c.Count -gt 0) { $type = [int]$c[0].CollectionType }
        }
        $items.Add(@{ instanceKey = $key; collectionType = $type })
    }
} catch {
    $state.folderErr = 'SMS_ObjectContainerItem: ' + [string]$_.Exception.Message
}

Write-Result @{ providers = $providers.ToArray(); namespace = $ns; namespacePresent = $true;
    owned = $owned.ToArray(); ownedTotal = $total; canCreate = $create; permissionError = $state.permErr;
    folderItems = $items.ToArray(); folderTotal = $itemTotal; folderError = $state.folderErr }
