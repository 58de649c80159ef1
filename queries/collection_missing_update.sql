-- patchnight: recompile
-- SQL twin of the missing-update rule: the machines the WQL query rule selects, from the
-- site database. Machines for which an update (@article, or @bulletin when @article is '')
-- is required (Status = 2), within the limiting collection (@limit), like
--   SMS_R_System join SMS_UpdateComplianceStatus join SMS_SoftwareUpdate
--   where ArticleID = "..." and Status = 2
-- (reference 1.2 and 4). Each machine once, even when several CIs carry the article.
SELECT s.ResourceID, COALESCE(s.Name0, '') AS Name
FROM v_R_System s
WHERE s.ResourceID IN (SELECT ucs.ResourceID
                       FROM v_UpdateComplianceStatus ucs
                       JOIN v_UpdateInfo ui ON ui.CI_ID = ucs.CI_ID
                       WHERE ucs.Status = 2
                         AND ((@article <> '' AND ui.ArticleID = @article)
                              OR (@article = '' AND @bulletin <> '' AND ui.BulletinID = @bulletin)))
  AND s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm WHERE fcm.CollectionID = @limit)
ORDER BY COALESCE(s.Name0, ''), s.ResourceID
