# patchnight-op: notice-window/1
# The notice window (issue 7): client-notify.ps1 writes this file to %ProgramData%\patchnight
# and starts it in the user's session through a one-shot scheduled task that runs
#   powershell.exe -NoProfile -NonInteractive -WindowStyle Hidden -EncodedCommand <launcher>
# (no -File and no -ExecutionPolicy: Group Policy overrides the one, AllSigned refuses the
# other). The launcher (scripts.NoticeLauncher) runs this text as a script block only when
# its SHA-256 is the one patchnight sent, with the notice from
# %ProgramData%\patchnight\notices\<id>.txt as its parameter.
# The payload is base64 of UTF-8 JSON {"Title", "Text", "Organisation", "Contact",
# "TimeoutSeconds"} (pkg/notify.EncodePayload). Every value is shown through a property
# that takes plain text: the form's title, labels with UseMnemonic off (so & is shown as
# it is), and a read-only text box. Nothing is interpreted as markup or code.
# Result (printed for a log; nobody waits for it): {"shown": true, "closedBy": "user"|"timeout"}.
# patchnight-uses: common
param($p)
$ErrorActionPreference = 'Stop'

# Mirrors pkg/notify PlainText and PlainLine: controls other than TAB/CR/LF are dropped;
# line breaks become CR LF (a text box breaks lines only at CR LF); a one-line value has
# every control character, line breaks included, turned into a space.
function Get-PnPlainText([string]$s) {
    $s = $s -replace '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]', ''
    $s = $s -replace "`r`n", "`n"
    $s = $s -replace "`r", "`n"
    return ($s -replace "`n", "`r`n")
}
function Get-PnPlainLine([string]$s) {
    return ($s -replace '[\x00-\x1F\x7F-\x9F]', ' ')
}

if ($p -isnot [string] -or $p.Length -gt 16000 -or $p -notmatch '^[A-Za-z0-9+/]+={0,2}$') {
    Stop-Op 'bad-parameter' 'the notice must be base64'
}
try {
    $n = (New-Object System.Text.UTF8Encoding $false).GetString([Convert]::FromBase64String($p)) | ConvertFrom-Json
} catch {
    Stop-Op 'bad-parameter' ('the notice is not base64 of JSON: ' + $_.Exception.Message)
}
$seconds = 0
if (-not [int]::TryParse([string]$n.TimeoutSeconds, [ref]$seconds) -or $seconds -lt 10 -or $seconds -gt 86400) { $seconds = 900 }

Add-Type -AssemblyName System.Windows.Forms
Add-Type -AssemblyName System.Drawing
[System.Windows.Forms.Application]::EnableVisualStyles()

$form = New-Object System.Windows.Forms.Form
$form.Text = Get-PnPlainLine ([string]$n.Title)
$form.StartPosition = [System.Windows.Forms.FormStartPosition]::CenterScreen
$form.FormBorderStyle = [System.Windows.Forms.FormBorderStyle]::FixedDialog
$form.MaximizeBox = $false
$form.MinimizeBox = $false
$form.TopMost = $true
$form.ShowInTaskbar = $true
$form.ClientSize = New-Object System.Drawing.Size 520, 320
$form.Font = New-Object System.Drawing.Font 'Segoe UI', 10

$layout = New-Object System.Windows.Forms.TableLayoutPanel
$layout.Dock = [System.Windows.Forms.DockStyle]::Fill
$layout.Padding = New-Object System.Windows.Forms.Padding 12
$layout.ColumnCount = 1
$layout.RowCount = 4
$null = $layout.RowStyles.Add((New-Object System.Windows.Forms.RowStyle ([System.Windows.Forms.SizeType]::AutoSize)))
$null = $layout.RowStyles.Add((New-Object System.Windows.Forms.RowStyle ([System.Windows.Forms.SizeType]::Percent), 100))
$null = $layout.RowStyles.Add((New-Object System.Windows.Forms.RowStyle ([System.Windows.Forms.SizeType]::AutoSize)))
$null = $layout.RowStyles.Add((New-Object System.Windows.Forms.RowStyle ([System.Windows.Forms.SizeType]::AutoSize)))

$org = New-Object System.Windows.Forms.Label
$org.UseMnemonic = $false
$org.AutoSize = $true
$org.Font = New-Object System.Drawing.Font 'Segoe UI', 12, ([System.Drawing.FontStyle]::Bold)
$org.Text = Get-PnPlainLine ([string]$n.Organisation)

$body = New-Object System.Windows.Forms.TextBox
$body.Multiline = $true
$body.ReadOnly = $true
$body.WordWrap = $true
$body.ScrollBars = [System.Windows.Forms.ScrollBars]::Vertical
$body.BorderStyle = [System.Windows.Forms.BorderStyle]::None
$body.BackColor = $form.BackColor
$body.TabStop = $false
$body.Dock = [System.Windows.Forms.DockStyle]::Fill
$body.Text = Get-PnPlainText ([string]$n.Text)

$contact = New-Object System.Windows.Forms.Label
$contact.UseMnemonic = $false
$contact.AutoSize = $true
$contact.Text = Get-PnPlainLine ([string]$n.Contact)

$ok = New-Object System.Windows.Forms.Button
$ok.Text = 'OK'
$ok.DialogResult = [System.Windows.Forms.DialogResult]::OK
$ok.Anchor = [System.Windows.Forms.AnchorStyles]::Right
$form.AcceptButton = $ok

$layout.Controls.Add($org, 0, 0)
$layout.Controls.Add($body, 0, 1)
$layout.Controls.Add($contact, 0, 2)
$layout.Controls.Add($ok, 0, 3)
$form.Controls.Add($layout)

$closedBy = 'user'
$timer = New-Object System.Windows.Forms.Timer
$timer.Interval = [Math]::Min($seconds, 2000000) * 1000
$timer.add_Tick({ $timer.Stop(); $script:closedBy = 'timeout'; $form.Close() })
$form.add_Shown({ $form.Activate(); $ok.Focus(); $timer.Start() })
$null = $form.ShowDialog()
$timer.Dispose()
$form.Dispose()
Write-Result @{ shown = $true; closedBy = $closedBy }
