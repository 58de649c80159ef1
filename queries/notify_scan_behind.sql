-- patchnight: recompile
-- The scan-behind watcher (notify watch-unscanned): client machines whose scan is not
-- current against the catalog (never scanned the publishing update source, last scan
-- failed, or scanned an older catalog than the top SUP's SyncCatalogVersion; reference 3),
-- with their fast-channel online state and logged-on user (reference 6), within @collection
-- (a CollectionID; '' = every client). With no top SUP row, nobody is behind. The top SUP
-- is the row syncing from Microsoft Update; which row is right in a multi-SUP hierarchy is
-- unconfirmed (reference 3; `patchnight doctor`, check sup-sync, marks a site with several).
WITH cur AS (
    SELECT MAX(sup.SyncCatalogVersion) AS Version
    FROM vSMS_SUPSyncStatus sup
    WHERE sup.WSUSSourceServer = 'Microsoft Update'
)
SELECT s.ResourceID, COALESCE(s.Name0, '') AS Name,
       COALESCE(cdr.CNIsOnline, 0) AS Online,
       COALESCE(cdr.CurrentLogonUser, '') AS CurrentUser,
       CASE WHEN uss.ResourceID IS NULL THEN 'never'
            WHEN uss.LastScanState <> 3 OR uss.LastErrorCode <> 0 THEN 'failed'
            ELSE 'behind' END AS Bucket,
       COALESCE(uss.LastScanPackageVersion, 0) AS ScanVersion,
       cur.Version AS CatalogVersion
FROM v_R_System s
CROSS JOIN cur
LEFT JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = s.ResourceID
LEFT JOIN v_UpdateScanStatus uss
       ON uss.ResourceID = s.ResourceID
      AND uss.UpdateSource_ID = (SELECT MIN(src.UpdateSource_ID) FROM v_SoftwareUpdateSource src
                                 WHERE src.IsPublishingEnabled = 1)
WHERE s.Client0 = 1
  AND COALESCE(s.Obsolete0, 0) = 0
  AND COALESCE(s.Decommissioned0, 0) = 0
  AND COALESCE(s.Name0, '') <> ''
  AND cur.Version IS NOT NULL
  AND (uss.ResourceID IS NULL OR uss.LastScanState <> 3 OR uss.LastErrorCode <> 0
       OR uss.LastScanPackageVersion < cur.Version)
  AND (@collection = '' OR s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                            WHERE fcm.CollectionID = @collection))
ORDER BY s.Name0, s.ResourceID
