# patchnight-op: client-update-state/1
# Reports, read-only, how the client's software updates stand: the root\ccm\ClientSDK
# CCM_SoftwareUpdate instances (deployed, applicable, not installed; configmgr.md sections
# 2 and 6) with ArticleID, EvaluationState (progress: 2-7 and 11 running, 8-10 pending a
# restart, 12 installed, 13 error), ErrorCode, PercentComplete and ComplianceState. An
# update that no longer appears is installed. InstallUpdates only queues a job; this is
# how the caller follows it (configmgr.md section 12). PercentComplete is on the class's
# memdocs page but not in configmgr.md: callers only report it, they decide on
# EvaluationState alone.
# Parameters: {"ArticleIDs": ["5034441", ...]} optional: only these KB numbers.
# Result: {"updates": [{"articleId": "5034441", "evaluationState": 7, "errorCode": 0,
#          "percentComplete": 40, "complianceState": 0}]}
# patchnight-uses: common, cim
param($p)
$ErrorActionPreference = 'Stop'

$only = @(Get-PnArticleIDs $p)
try {
    $all = @(Get-CimInstance -Namespace 'root\ccm\ClientSDK' -ClassName 'CCM_SoftwareUpdate')
} catch {
    Stop-Cim $_
}
$out = @()
foreach ($u in $all) {
    $a = [string]$u.ArticleID
    if ($only.Count -gt 0 -and -not ($only -contains $a)) { continue }
    $out += @{
        articleId       = $a
        evaluationState = [int64]$u.EvaluationState
        errorCode       = [int64]$u.ErrorCode
        percentComplete = [int64]$u.PercentComplete
        complianceState = [int64]$u.ComplianceState
    }
}
Write-Result @{ updates = $out }
