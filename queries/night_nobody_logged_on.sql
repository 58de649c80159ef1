-- Direct members of the nobody-logged-on family: client machines online on the fast channel
-- (CNIsOnline = 1) with nobody logged on now (no CurrentLogonUser), within the limiting
-- collection (@limit). Offline machines are in neither night family: nobody can say.
SELECT s.ResourceID, COALESCE(s.Name0, '') AS Name
FROM v_R_System s
JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = s.ResourceID
WHERE s.Client0 = 1
  AND COALESCE(s.Obsolete0, 0) = 0
  AND COALESCE(s.Decommissioned0, 0) = 0
  AND cdr.CNIsOnline = 1
  AND COALESCE(cdr.CurrentLogonUser, '') = ''
  AND s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm WHERE fcm.CollectionID = @limit)
ORDER BY COALESCE(s.Name0, ''), s.ResourceID
