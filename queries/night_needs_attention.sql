-- Members of the needs-attention collection: its direct rules, which escalation adds;
-- patchnight's planner never changes them. @collection is its CollectionID ('' before it
-- exists: no members). The column names of v_CollectionRuleDirect come from community tools
-- and are unconfirmed in MS docs (reference 1.3): `patchnight doctor` describes this query
-- on the site (check query).
SELECT s.ResourceID, COALESCE(s.Name0, '') AS Name
FROM v_R_System s
WHERE s.ResourceID IN (SELECT r.ResourceID FROM v_CollectionRuleDirect r WHERE r.CollectionID = @collection)
ORDER BY COALESCE(s.Name0, ''), s.ResourceID
