-- patchnight: recompile
-- Machines that still miss one update (Status 2), with their last scan of the update's own
-- update source and the last enforcement state (topic 402). @article / @bulletin: exactly
-- one is non-empty. @collection: a CollectionID ('' = every machine).
SELECT s.ResourceID, s.Name0 AS Name, ui.CI_ID, COALESCE(ui.ArticleID, '') AS ArticleID,
       COALESCE(ui.BulletinID, '') AS BulletinID, ui.Title,
       uss.LastScanTime, COALESCE(ucs.LastEnforcementMessageID, 0) AS EnforcementState,
       COALESCE(sn.StateName, '') AS EnforcementStateName, COALESCE(ucs.LastErrorCode, 0) AS LastErrorCode,
       COALESCE(cdr.CNIsOnline, 0) AS Online, COALESCE(cdr.CurrentLogonUser, '') AS CurrentUser
FROM v_UpdateComplianceStatus ucs
JOIN v_UpdateInfo ui ON ui.CI_ID = ucs.CI_ID
JOIN v_R_System s ON s.ResourceID = ucs.ResourceID
LEFT JOIN v_UpdateCIs uc ON uc.CI_ID = ucs.CI_ID
LEFT JOIN v_StateNames sn ON sn.TopicType = 402 AND sn.StateID = ucs.LastEnforcementMessageID
LEFT JOIN v_UpdateScanStatus uss
       ON uss.ResourceID = ucs.ResourceID AND uss.UpdateSource_ID = uc.UpdateSource_ID
LEFT JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = ucs.ResourceID
WHERE ucs.Status = 2
  AND ((@article <> '' AND ui.ArticleID = @article) OR (@bulletin <> '' AND ui.BulletinID = @bulletin))
  AND (@collection = '' OR ucs.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                              WHERE fcm.CollectionID = @collection))
ORDER BY s.Name0, ui.CI_ID
