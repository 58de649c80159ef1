-- A software update group by CI_ID or by title, with its update count. The site's
-- collation is case-insensitive, so `=` matches any spelling of the title (no UPPER());
-- two seekable branches instead of one OR.
SELECT al.CI_ID, al.Title,
       (SELECT COUNT(*) FROM v_CIRelation cr WHERE cr.FromCIID = al.CI_ID AND cr.RelationType = 1) AS Updates
FROM v_AuthListInfo al
WHERE al.CI_ID = @id
UNION
SELECT al.CI_ID, al.Title,
       (SELECT COUNT(*) FROM v_CIRelation cr WHERE cr.FromCIID = al.CI_ID AND cr.RelationType = 1) AS Updates
FROM v_AuthListInfo al
WHERE al.Title = @title
