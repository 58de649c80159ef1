-- patchnight: recompile
-- Client machines by scan bucket against the current catalog, one row per bucket and error.
-- Current catalog = SyncCatalogVersion of the top SUP (WSUSSourceServer = 'Microsoft
-- Update'); which row is right in a multi-SUP hierarchy is unconfirmed (reference 3).
-- Buckets, first match wins: never (no scan row for the publishing source), failed
-- (LastScanState <> 3 or LastErrorCode <> 0), current, behind1 (exactly one version
-- behind), behind (more). Late (LastScanTime before @late_before) is counted alongside.
-- behind1 ("current minus one") assumes the catalog version rises by one; how
-- SyncCatalogVersion increments is unconfirmed (reference 3): `patchnight doctor`, check
-- catalog-steps, looks for clients on the version right below the current one.
WITH cur AS (
    SELECT MAX(sup.SyncCatalogVersion) AS Version
    FROM vSMS_SUPSyncStatus sup
    WHERE sup.WSUSSourceServer = 'Microsoft Update'
),
clients AS (
    SELECT s.ResourceID,
           CASE WHEN uss.ResourceID IS NULL THEN 'never'
                WHEN uss.LastScanState <> 3 OR uss.LastErrorCode <> 0 THEN 'failed'
                WHEN uss.LastScanPackageVersion >= cur.Version THEN 'current'
                WHEN uss.LastScanPackageVersion = cur.Version - 1 THEN 'behind1'
                ELSE 'behind' END AS Bucket,
           CASE WHEN uss.ResourceID IS NOT NULL AND (uss.LastScanState <> 3 OR uss.LastErrorCode <> 0)
                THEN uss.LastErrorCode ELSE 0 END AS ErrorCode,
           CASE WHEN uss.LastScanTime < @late_before THEN 1 ELSE 0 END AS Late
    FROM v_R_System s
    CROSS JOIN cur
    LEFT JOIN v_UpdateScanStatus uss
           ON uss.ResourceID = s.ResourceID
          AND uss.UpdateSource_ID = (SELECT MIN(src.UpdateSource_ID) FROM v_SoftwareUpdateSource src
                                     WHERE src.IsPublishingEnabled = 1)
    WHERE s.Client0 = 1
      AND COALESCE(s.Obsolete0, 0) = 0
      AND COALESCE(s.Decommissioned0, 0) = 0
      AND (@collection = '' OR s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                                 WHERE fcm.CollectionID = @collection))
)
SELECT c.Bucket, c.ErrorCode, COUNT(*) AS Clients, SUM(c.Late) AS Late,
       (SELECT Version FROM cur) AS CatalogVersion
FROM clients c
GROUP BY c.Bucket, c.ErrorCode
ORDER BY c.Bucket, c.ErrorCode
