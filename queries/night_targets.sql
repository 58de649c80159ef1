-- The machines a night step acts on: client machines in the night's scope (@scope, a
-- CollectionID; '' = every client) chosen by @selector, with what the step needs to know
-- about each. @group is the night's software update group (CI_ID) for missing-updates.
-- Selectors: all, nobody-logged-on-now, logged-on, missing-updates, scan-behind,
-- pending-restart (enforcement state 9), failed-installs (11), needs-attention (members of
-- @attention, a CollectionID).
SELECT s.ResourceID, s.Name0 AS Name, COALESCE(cdr.CNIsOnline, 0) AS Online,
       COALESCE(cdr.CurrentLogonUser, '') AS CurrentUser
FROM v_R_System s
LEFT JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = s.ResourceID
WHERE s.Client0 = 1
  AND COALESCE(s.Obsolete0, 0) = 0
  AND COALESCE(s.Decommissioned0, 0) = 0
  AND (@scope = '' OR s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                       WHERE fcm.CollectionID = @scope))
  AND (@selector = 'all'
       OR (@selector = 'nobody-logged-on-now' AND cdr.CurrentLogonUser IS NULL)
       OR (@selector = 'logged-on' AND cdr.CurrentLogonUser IS NOT NULL)
       OR (@selector = 'missing-updates' AND s.ResourceID IN (
              SELECT ucs.ResourceID FROM v_UpdateComplianceStatus ucs
              WHERE ucs.Status = 2
                AND (@group = 0 OR ucs.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr
                                                 WHERE cr.FromCIID = @group AND cr.RelationType = 1))))
       OR (@selector = 'pending-restart' AND s.ResourceID IN (
              SELECT ucs.ResourceID FROM v_UpdateComplianceStatus ucs
              WHERE ucs.Status = 2 AND ucs.LastEnforcementMessageID = 9))
       OR (@selector = 'failed-installs' AND s.ResourceID IN (
              SELECT ucs.ResourceID FROM v_UpdateComplianceStatus ucs
              WHERE ucs.Status = 2 AND ucs.LastEnforcementMessageID = 11))
       OR (@selector = 'scan-behind' AND NOT EXISTS (
              SELECT 1 FROM v_UpdateScanStatus uss
              WHERE uss.ResourceID = s.ResourceID
                AND uss.UpdateSource_ID = (SELECT MIN(src.UpdateSource_ID) FROM v_SoftwareUpdateSource src
                                           WHERE src.IsPublishingEnabled = 1)
                AND uss.LastScanState = 3 AND uss.LastErrorCode = 0
                AND uss.LastScanPackageVersion >= (SELECT MAX(sup.SyncCatalogVersion) FROM vSMS_SUPSyncStatus sup
                                                   WHERE sup.WSUSSourceServer = 'Microsoft Update')))
       OR (@selector = 'needs-attention' AND s.ResourceID IN (
              SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm WHERE fcm.CollectionID = @attention)))
ORDER BY s.Name0
