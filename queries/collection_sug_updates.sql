-- The updates of one software update group (@group, its CI_ID): SUG members are
-- v_CIRelation rows FromCIID = group, RelationType = 1 (reference 1.2).
SELECT ui.CI_ID, COALESCE(ui.ArticleID, '') AS ArticleID, COALESCE(ui.BulletinID, '') AS BulletinID,
       ui.Title, COALESCE(ui.IsExpired, 0) AS IsExpired, COALESCE(ui.IsSuperseded, 0) AS IsSuperseded
FROM v_UpdateInfo ui
WHERE ui.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr WHERE cr.FromCIID = @group AND cr.RelationType = 1)
ORDER BY ui.ArticleID, ui.CI_ID
