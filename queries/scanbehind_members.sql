-- patchnight: recompile
-- SQL twin (and direct members) of the scan-behind family: client machines by their last
-- scan against the publishing update source, compared with the current catalog version,
-- within the limiting collection (@limit). @variant picks the set (reference 3):
--   one-behind  LastScanPackageVersion = SyncCatalogVersion - 1 ("current minus one")
--   behind      LastScanPackageVersion < SyncCatalogVersion (any version behind)
--   never       no scan row for the publishing update source
--   failed      LastScanState <> 3 OR LastErrorCode <> 0
-- The variants may overlap. Current version = SyncCatalogVersion of the top SUP
-- (WSUSSourceServer = 'Microsoft Update'), as queries/scan_status.sql; which SUP row is right
-- in a multi-SUP hierarchy is unconfirmed. With no such row, nobody is behind.
-- one-behind assumes the catalog version rises by one; how SyncCatalogVersion increments is
-- unconfirmed (reference 3): `patchnight doctor`, check catalog-steps, looks for clients on
-- the version right below the current one.
WITH cur AS (
    SELECT MAX(sup.SyncCatalogVersion) AS Version
    FROM vSMS_SUPSyncStatus sup
    WHERE sup.WSUSSourceServer = 'Microsoft Update'
)
SELECT s.ResourceID, COALESCE(s.Name0, '') AS Name
FROM v_R_System s
CROSS JOIN cur
LEFT JOIN v_UpdateScanStatus uss
       ON uss.ResourceID = s.ResourceID
      AND uss.UpdateSource_ID = (SELECT MIN(src.UpdateSource_ID) FROM v_SoftwareUpdateSource src
                                 WHERE src.IsPublishingEnabled = 1)
WHERE s.Client0 = 1
  AND COALESCE(s.Obsolete0, 0) = 0
  AND COALESCE(s.Decommissioned0, 0) = 0
  AND s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm WHERE fcm.CollectionID = @limit)
  AND ((@variant = 'one-behind' AND uss.LastScanPackageVersion = cur.Version - 1)
       OR (@variant = 'behind' AND uss.LastScanPackageVersion < cur.Version)
       OR (@variant = 'never' AND uss.ResourceID IS NULL)
       OR (@variant = 'failed' AND (uss.LastScanState <> 3 OR uss.LastErrorCode <> 0)))
ORDER BY COALESCE(s.Name0, ''), s.ResourceID
