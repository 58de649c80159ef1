-- patchnight: recompile
-- The machines a night step acts on: client machines in the night's scope (@scope, a
-- CollectionID; '' = every client) chosen by @selector, with what the step needs to know
-- about each. @group is the night's software update group (a CI_ID).
-- Selectors:
--   all
--   nobody-logged-on-now  online now on the fast channel (CNIsOnline = 1) with nobody logged
--                         on (no CurrentLogonUser); an offline machine is not "nobody".
--   logged-on             a user logged on now (CurrentLogonUser, NULL when offline).
--   missing-updates       an update of @group still required (Status 2).
--   pending-restart       an update of @group pending a restart (enforcement state 9).
--   failed-installs       an update of @group whose install failed (11).
--   scan-behind           no current, successful scan of the publishing source (current =
--                         the top SUP's SyncCatalogVersion; which SUP row is right in a
--                         multi-SUP hierarchy is unconfirmed, reference 3).
--   needs-attention       members of @attention, a CollectionID.
-- The group selectors select nobody when @group is 0; the runner refuses them without a
-- group instead of running them. CNIsOnline's SQL type (bit or int) is unconfirmed: it is
-- only compared here and returned through COALESCE (int).
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
       OR (@selector = 'nobody-logged-on-now' AND cdr.CNIsOnline = 1
           AND COALESCE(cdr.CurrentLogonUser, '') = '')
       OR (@selector = 'logged-on' AND COALESCE(cdr.CurrentLogonUser, '') <> '')
       OR (@selector = 'missing-updates' AND s.ResourceID IN (
              SELECT ucs.ResourceID FROM v_UpdateComplianceStatus ucs
              WHERE ucs.Status = 2
                AND ucs.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr
                                  WHERE cr.FromCIID = @group AND cr.RelationType = 1)))
       OR (@selector = 'pending-restart' AND s.ResourceID IN (
              SELECT ucs.ResourceID FROM v_UpdateComplianceStatus ucs
              WHERE ucs.Status = 2 AND ucs.LastEnforcementMessageID = 9
                AND ucs.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr
                                  WHERE cr.FromCIID = @group AND cr.RelationType = 1)))
       OR (@selector = 'failed-installs' AND s.ResourceID IN (
              SELECT ucs.ResourceID FROM v_UpdateComplianceStatus ucs
              WHERE ucs.Status = 2 AND ucs.LastEnforcementMessageID = 11
                AND ucs.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr
                                  WHERE cr.FromCIID = @group AND cr.RelationType = 1)))
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
