-- patchnight: recompile
-- Per client machine in the night's scope (@scope; '' = every client): whether it is
-- eligible (active, healthy client), online, on the current catalog, and its state for the
-- night's software update group (@group, a CI_ID): updates still required, how many are
-- pending a restart (enforcement 9) or failed (11), the last error, and whether every
-- update's catalog was scanned (unknown otherwise). One set-based pass; the runner counts
-- barriers and the morning report from it.
-- The scan bucket compares the machine's scan of the publishing update source with the top
-- SUP's catalog (reference 3: pin the source; the top SUP is the row syncing from Microsoft
-- Update, and which row is right in a multi-SUP hierarchy is unconfirmed: doctor's sup-sync
-- check marks a site with several). Known is per update: the machine's scan of
-- that update's own source (v_UpdateCIs.UpdateSource_ID) carried the update's catalog
-- (MinSourceVersion; whether v_UpdateCIs exposes it on a site is unconfirmed, reference 1.2
-- "Types"); with an empty group, a machine is known once it has scanned at all. Online,
-- Active and the other yes/no columns are integers here (COALESCE/CASE).
-- LastOnline (CNLastOnlineTime) is read as UTC; the fast channel's time zone is unconfirmed
-- (docs/reference-additions.md): doctor's fast-channel-times check weighs it on the site.
-- ScanState is the scan's LastScanState (reference 2, topic 501; 0 when never scanned): the
-- bucket counts a scan still running (2) as failed, as reference 3's rule does, and the
-- morning report tells the two apart.
WITH cur AS (
    SELECT MAX(sup.SyncCatalogVersion) AS Version FROM vSMS_SUPSyncStatus sup
    WHERE sup.WSUSSourceServer = 'Microsoft Update'
),
grp AS (
    SELECT uc.CI_ID, uc.UpdateSource_ID, uc.MinSourceVersion FROM v_UpdateCIs uc
    WHERE uc.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr WHERE cr.FromCIID = @group AND cr.RelationType = 1)
),
need AS (
    SELECT COUNT(*) AS Updates FROM grp
),
known AS (
    SELECT uss.ResourceID, COUNT(*) AS Updates
    FROM grp g
    JOIN v_UpdateScanStatus uss
      ON uss.UpdateSource_ID = g.UpdateSource_ID AND uss.LastScanPackageVersion >= g.MinSourceVersion
    GROUP BY uss.ResourceID
),
req AS (
    SELECT ucs.ResourceID,
           SUM(CASE WHEN ucs.Status = 2 THEN 1 ELSE 0 END) AS Required,
           SUM(CASE WHEN ucs.Status = 2 AND ucs.LastEnforcementMessageID = 9 THEN 1 ELSE 0 END) AS PendingRestart,
           SUM(CASE WHEN ucs.Status = 2 AND ucs.LastEnforcementMessageID = 11 THEN 1 ELSE 0 END) AS Failed,
           MIN(CASE WHEN ucs.Status = 2 AND ucs.LastErrorCode <> 0 THEN ucs.LastErrorCode END) AS ErrorCode
    FROM v_UpdateComplianceStatus ucs
    WHERE ucs.CI_ID IN (SELECT CI_ID FROM grp)
    GROUP BY ucs.ResourceID
)
SELECT s.ResourceID, s.Name0 AS Name, COALESCE(s.AD_Site_Name0, '') AS Location,
       CASE WHEN COALESCE(s.Active0, 0) = 1 AND COALESCE(cdr.ClientCheckPass, 0) = 1 THEN 1 ELSE 0 END AS Eligible,
       COALESCE(s.Active0, 0) AS Active, COALESCE(cdr.ClientCheckPass, 0) AS Healthy,
       COALESCE(cdr.CNIsOnline, 0) AS Online,
       CASE WHEN uss.ResourceID IS NULL THEN 'never'
            WHEN uss.LastScanState <> 3 OR uss.LastErrorCode <> 0 THEN 'failed'
            WHEN uss.LastScanPackageVersion >= cur.Version THEN 'current'
            ELSE 'behind' END AS ScanBucket,
       COALESCE(uss.LastErrorCode, 0) AS ScanError,
       CASE WHEN COALESCE(kn.Updates, 0) >= need.Updates AND (need.Updates > 0 OR uss.ResourceID IS NOT NULL)
            THEN 1 ELSE 0 END AS Known,
       COALESCE(req.Required, 0) AS Required, COALESCE(req.PendingRestart, 0) AS PendingRestart,
       COALESCE(req.Failed, 0) AS Failed, COALESCE(req.ErrorCode, 0) AS ErrorCode,
       cdr.CNLastOnlineTime AS LastOnline,
       COALESCE(uss.LastScanState, 0) AS ScanState
FROM v_R_System s
CROSS JOIN cur
CROSS JOIN need
LEFT JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = s.ResourceID
LEFT JOIN v_UpdateScanStatus uss
       ON uss.ResourceID = s.ResourceID
      AND uss.UpdateSource_ID = (SELECT MIN(src.UpdateSource_ID) FROM v_SoftwareUpdateSource src
                                 WHERE src.IsPublishingEnabled = 1)
LEFT JOIN req ON req.ResourceID = s.ResourceID
LEFT JOIN known kn ON kn.ResourceID = s.ResourceID
WHERE s.Client0 = 1
  AND COALESCE(s.Obsolete0, 0) = 0
  AND COALESCE(s.Decommissioned0, 0) = 0
  AND (@scope = '' OR s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                       WHERE fcm.CollectionID = @scope))
ORDER BY s.Name0
