# patchnight bootstrap/1. stdin: base64(UTF-8 JSON parameters) LF base64(UTF-8 script) LF.
# Runs the script as a scriptblock with the parsed parameter object. Scripts print their one
# JSON object with [Console]::Out; pipeline output is discarded. Exit 0 ok, 1 failed.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
try { [Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false } catch { }
try {
    $l = [Console]::In.ReadToEnd().Split([char]10)
    $u = New-Object System.Text.UTF8Encoding $false
    $p = $u.GetString([Convert]::FromBase64String($l[0].Trim())) | ConvertFrom-Json
    $s = [ScriptBlock]::Create($u.GetString([Convert]::FromBase64String($l[1].Trim())))
    $null = & $s $p
} catch {
    $e = @{ error = @{ code = 'exception'; message = [string]$_.Exception.Message } }
    [Console]::Out.WriteLine(($e | ConvertTo-Json -Compress -Depth 5))
    exit 1
}
exit 0
