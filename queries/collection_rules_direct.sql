-- Direct membership rules of the collections patchnight may own (comment carries an owner
-- tag; see collection_rules_query.sql). Column names unconfirmed in MS docs (reference 1.3):
-- `patchnight doctor` describes this query on the site (check query).
SELECT r.CollectionID, r.ResourceID, r.RuleName
FROM v_CollectionRuleDirect r
WHERE r.CollectionID IN (SELECT c.CollectionID FROM v_Collection c WHERE c.Comment LIKE '%patchnight:%')
ORDER BY r.CollectionID, r.ResourceID
