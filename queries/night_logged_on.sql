-- Direct members of the logged-on family: client machines with a user logged on now, as the
-- fast channel reports it (v_CombinedDeviceResources.CurrentLogonUser, NULL when nobody is
-- logged on or the machine is offline; reference 6), within the limiting collection (@limit).
SELECT s.ResourceID, COALESCE(s.Name0, '') AS Name
FROM v_R_System s
JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = s.ResourceID
WHERE s.Client0 = 1
  AND COALESCE(s.Obsolete0, 0) = 0
  AND COALESCE(s.Decommissioned0, 0) = 0
  AND COALESCE(cdr.CurrentLogonUser, '') <> ''
  AND s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm WHERE fcm.CollectionID = @limit)
ORDER BY COALESCE(s.Name0, ''), s.ResourceID
