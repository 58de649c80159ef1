-- One machine's updates: every update CI with its status for that machine (required and
-- installed from v_UpdateComplianceStatus; not required or unknown derived from the
-- machine's scan of the update's own update source, reference 1.2), the last enforcement
-- state and error. @name is the machine name; the site's collation is case-insensitive, so
-- `=` matches any spelling (no UPPER(), which would defeat the index seek). Whether
-- v_UpdateCIs exposes MinSourceVersion on a site is unconfirmed (reference 1.2 "Types").
SELECT s.ResourceID, s.Name0 AS Name, ui.CI_ID, COALESCE(ui.ArticleID, '') AS ArticleID,
       COALESCE(ui.BulletinID, '') AS BulletinID, ui.Title,
       COALESCE(ucs.Status,
                CASE WHEN uss.LastScanPackageVersion >= uc.MinSourceVersion THEN 1 ELSE 0 END) AS Status,
       COALESCE(ucs.LastEnforcementMessageID, 0) AS EnforcementState,
       COALESCE(sn.StateName, '') AS EnforcementStateName, COALESCE(ucs.LastErrorCode, 0) AS LastErrorCode,
       uss.LastScanTime
FROM v_R_System s
CROSS JOIN v_UpdateCIs uc
JOIN v_UpdateInfo ui ON ui.CI_ID = uc.CI_ID
LEFT JOIN v_UpdateComplianceStatus ucs ON ucs.ResourceID = s.ResourceID AND ucs.CI_ID = uc.CI_ID
LEFT JOIN v_StateNames sn ON sn.TopicType = 402 AND sn.StateID = ucs.LastEnforcementMessageID
LEFT JOIN v_UpdateScanStatus uss
       ON uss.ResourceID = s.ResourceID AND uss.UpdateSource_ID = uc.UpdateSource_ID
WHERE s.Name0 = @name
  AND (ucs.Status IS NOT NULL OR ui.IsExpired = 0)
ORDER BY CASE WHEN ucs.Status = 2 THEN 0 ELSE 1 END, ui.ArticleID, ui.CI_ID
