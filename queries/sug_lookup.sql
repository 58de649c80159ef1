-- A software update group by CI_ID or by title (case-insensitive), with its update count.
SELECT al.CI_ID, al.Title,
       (SELECT COUNT(*) FROM v_CIRelation cr WHERE cr.FromCIID = al.CI_ID AND cr.RelationType = 1) AS Updates
FROM v_AuthListInfo al
WHERE al.CI_ID = @id OR UPPER(al.Title) = UPPER(@title)
