-- Query rules of the collections patchnight may own: those whose comment carries an owner
-- tag ("[patchnight:..."). The LIKE pattern has no [ ] (SQL Server reads them as a set);
-- the caller parses the tag exactly. The column names of v_CollectionRuleQuery come from
-- community tools and are unconfirmed in MS docs (reference 1.3): `patchnight doctor`
-- describes this query on the site (check query) and names a missing column.
SELECT r.CollectionID, r.QueryID, r.RuleName, r.QueryExpression
FROM v_CollectionRuleQuery r
WHERE r.CollectionID IN (SELECT c.CollectionID FROM v_Collection c WHERE c.Comment LIKE '%patchnight:%')
ORDER BY r.CollectionID, r.QueryID
