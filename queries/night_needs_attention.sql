-- Members of the needs-attention collection: its direct rules, which escalation adds;
-- patchnight's planner never changes them. @collection is its CollectionID ('' before it
-- exists: no members).
SELECT s.ResourceID, COALESCE(s.Name0, '') AS Name
FROM v_R_System s
WHERE s.ResourceID IN (SELECT r.ResourceID FROM v_CollectionRuleDirect r WHERE r.CollectionID = @collection)
ORDER BY COALESCE(s.Name0, ''), s.ResourceID
