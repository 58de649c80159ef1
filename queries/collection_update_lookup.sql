-- patchnight: recompile
-- Update CIs with one KB article (@article, digits) or one bulletin (@bulletin, MSyy-nnn);
-- the other parameter is ''. Both are validated by the caller. An article can have several
-- CIs (one per product or architecture).
SELECT ui.CI_ID, COALESCE(ui.ArticleID, '') AS ArticleID, COALESCE(ui.BulletinID, '') AS BulletinID,
       ui.Title
FROM v_UpdateInfo ui
WHERE ui.CIType_ID <> 9
  AND ((@article <> '' AND ui.ArticleID = @article) OR (@bulletin <> '' AND ui.BulletinID = @bulletin))
ORDER BY ui.CI_ID
