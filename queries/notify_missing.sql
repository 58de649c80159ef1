-- patchnight: recompile
-- The Thursday notice and escalation (notify missing, notify escalations): one row per
-- client machine and update it still misses (Status 2 in v_UpdateComplianceStatus, the
-- predicate of the per-update collections, queries/collection_missing_update.sql), with the
-- update's last enforcement state and error code (topic 402, LastErrorCode) and the machine's
-- fast-channel online state and logged-on user. Which updates: one by @article (digits) or
-- @bulletin (MSyy-nnn), or else the updates of the software update group @group (a CI_ID;
-- 0 = every update). @collection limits the machines ('' = every client).
-- Only updates deployed to the machine count: a client lists only deployed updates
-- (reference 1.2, v_CIAssignmentTargetedMachines), so a user is never told about an update
-- no deployment targets at their machine. Deployed = a deployment that targets the machine
-- carries the update, directly (v_CIAssignmentToCI) or through its software update group
-- (v_CIAssignmentToGroup and the group's members in v_CIRelation).
WITH deployed AS (
    SELECT ac.CI_ID, tm.ResourceID
    FROM v_CIAssignmentToCI ac
    JOIN v_CIAssignmentTargetedMachines tm ON tm.AssignmentID = ac.AssignmentID
    UNION
    SELECT cr.ToCIID AS CI_ID, tm.ResourceID
    FROM v_CIAssignmentToGroup ag
    JOIN v_CIRelation cr ON cr.FromCIID = ag.AssignedUpdateGroup AND cr.RelationType = 1
    JOIN v_CIAssignmentTargetedMachines tm ON tm.AssignmentID = ag.AssignmentID
)
SELECT s.ResourceID, COALESCE(s.Name0, '') AS Name, ui.CI_ID,
       COALESCE(ui.ArticleID, '') AS ArticleID, COALESCE(ui.BulletinID, '') AS BulletinID,
       COALESCE(ui.Title, '') AS Title,
       COALESCE(ucs.LastEnforcementMessageID, 0) AS EnforcementState,
       COALESCE(ucs.LastErrorCode, 0) AS LastErrorCode,
       COALESCE(cdr.CNIsOnline, 0) AS Online,
       COALESCE(cdr.CurrentLogonUser, '') AS CurrentUser
FROM v_UpdateComplianceStatus ucs
JOIN v_UpdateInfo ui ON ui.CI_ID = ucs.CI_ID
JOIN v_R_System s ON s.ResourceID = ucs.ResourceID
LEFT JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = ucs.ResourceID
WHERE ucs.Status = 2
  AND EXISTS (SELECT 1 FROM deployed d WHERE d.CI_ID = ucs.CI_ID AND d.ResourceID = ucs.ResourceID)
  AND s.Client0 = 1
  AND COALESCE(s.Obsolete0, 0) = 0
  AND COALESCE(s.Decommissioned0, 0) = 0
  AND COALESCE(s.Name0, '') <> ''
  AND ((@article <> '' AND ui.ArticleID = @article)
       OR (@article = '' AND @bulletin <> '' AND ui.BulletinID = @bulletin)
       OR (@article = '' AND @bulletin = '' AND (@group = 0 OR ucs.CI_ID IN (
              SELECT cr.ToCIID FROM v_CIRelation cr WHERE cr.FromCIID = @group AND cr.RelationType = 1))))
  AND (@collection = '' OR ucs.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                              WHERE fcm.CollectionID = @collection))
ORDER BY s.Name0, s.ResourceID, ui.CI_ID
