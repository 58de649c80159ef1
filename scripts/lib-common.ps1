# patchnight-lib: common
# The one-JSON-object output of every patchnight script (DESIGN.md, remote script protocol),
# for the scripts that name this library in a "# patchnight-uses:" line (scripts.Get inserts
# it after their param block): Write-Result prints one object; Stop-Op prints
# {"error":{"code":..,"message":..}} and exits 1.
function Write-Result($o) { [Console]::Out.WriteLine(($o | ConvertTo-Json -Compress -Depth 6)) }
function Stop-Op([string]$code, [string]$message) {
    Write-Result @{ error = @{ code = $code; message = $message } }
    exit 1
}
