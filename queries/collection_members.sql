-- Members of one collection (@collection, a CollectionID), as the site evaluated them.
SELECT fcm.ResourceID, COALESCE(s.Name0, '') AS Name, COALESCE(fcm.IsDirect, 0) AS IsDirect,
       COALESCE(s.Client0, 0) AS Client, COALESCE(s.Resource_Domain_OR_Workgr0, '') AS Domain
FROM v_FullCollectionMembership fcm
LEFT JOIN v_R_System s ON s.ResourceID = fcm.ResourceID
WHERE fcm.CollectionID = @collection
ORDER BY COALESCE(s.Name0, ''), fcm.ResourceID
