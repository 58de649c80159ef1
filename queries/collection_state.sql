-- Every collection with what the collection planner compares: name, comment (where
-- patchnight's owner tag lives), limiting collection, refresh type, console folder, members
-- and evaluation state. v_Collection.Comment and v_Collections.ObjectPath: column names
-- from community tools (reference 1.3); LimitToCollectionID is read from v_Collections,
-- where the reference places it.
SELECT c.CollectionID, c.Name, COALESCE(c.Comment, '') AS Comment,
       COALESCE(cs.LimitToCollectionID, '') AS LimitToCollectionID,
       COALESCE(c.RefreshType, 0) AS RefreshType,
       COALESCE(cs.ObjectPath, '/') AS ObjectPath,
       COALESCE(cs.IsBuiltIn, 0) AS IsBuiltIn,
       COALESCE(c.CollectionType, 0) AS CollectionType,
       COALESCE(c.MemberCount, 0) AS MemberCount,
       COALESCE(c.CurrentStatus, 0) AS CurrentStatus,
       c.LastRefreshTime
FROM v_Collection c
LEFT JOIN v_Collections cs ON cs.SiteID = c.CollectionID
ORDER BY c.CollectionID
