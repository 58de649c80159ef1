-- patchnight: recompile
-- The eligible machines (active, healthy clients in the night's scope @scope; '' = every
-- client) not seen online since @since, the start of the night: offline now on the fast
-- channel (CNIsOnline), and neither their last time online (CNLastOnlineTime) nor their last
-- time offline (CNLastOfflineTime: a machine was online until it went offline) is at or
-- after @since. A machine the fast channel never saw (both NULL) is not seen either. The
-- times are as v_CombinedDeviceResources keeps them (reference 1.2), compared with @since
-- in UTC: that the fast channel keeps them in UTC is unconfirmed (docs/reference-additions.md;
-- `patchnight doctor`, check fast-channel-times, weighs it on the site). CNIsOnline's SQL type
-- (bit or int) is unconfirmed: it is only compared here. One set-based pass.
SELECT s.ResourceID, s.Name0 AS Name, cdr.CNLastOnlineTime AS LastOnline, cdr.CNLastOfflineTime AS LastOffline
FROM v_R_System s
LEFT JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = s.ResourceID
WHERE s.Client0 = 1
  AND COALESCE(s.Obsolete0, 0) = 0
  AND COALESCE(s.Decommissioned0, 0) = 0
  AND COALESCE(s.Active0, 0) = 1
  AND COALESCE(cdr.ClientCheckPass, 0) = 1
  AND (@scope = '' OR s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                       WHERE fcm.CollectionID = @scope))
  AND COALESCE(cdr.CNIsOnline, 0) = 0
  AND (cdr.CNLastOnlineTime IS NULL OR cdr.CNLastOnlineTime < @since)
  AND (cdr.CNLastOfflineTime IS NULL OR cdr.CNLastOfflineTime < @since)
ORDER BY s.Name0
