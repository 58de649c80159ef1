-- The Thursday notice and escalation (notify missing, notify escalations): one row per
-- client machine and update it still misses (Status 2 in v_UpdateComplianceStatus, the
-- predicate of the per-update collections, queries/collection_missing_update.sql), with the
-- update's last enforcement state and error code (topic 402, LastErrorCode) and the machine's
-- fast-channel online state and logged-on user. Which updates: one by @article (digits) or
-- @bulletin (MSyy-nnn), or else the updates of the software update group @group (a CI_ID;
-- 0 = every update). @collection limits the machines ('' = every client).
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
