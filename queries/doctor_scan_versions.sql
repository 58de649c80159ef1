-- doctor: the catalog versions clients last scanned successfully (LastScanPackageVersion of
-- the publishing update source, reference 3), with how many clients are on each. "Current
-- minus one" (the scan report's behind1 bucket, the scan-behind family's one-behind variant)
-- assumes the version rises by one per catalog; how SyncCatalogVersion increments is
-- unconfirmed (reference 3): the doctor looks for clients on the version right below the top
-- SUP's current one (read apart, doctor_sup_sync, so that a missing GRANT on
-- vSMS_SUPSyncStatus fails the sup-sync check alone).
SELECT uss.LastScanPackageVersion AS Version, COUNT(*) AS Clients
FROM v_UpdateScanStatus uss
WHERE uss.UpdateSource_ID = (SELECT MIN(src.UpdateSource_ID) FROM v_SoftwareUpdateSource src
                             WHERE src.IsPublishingEnabled = 1)
  AND uss.LastScanState = 3
  AND uss.LastErrorCode = 0
  AND uss.LastScanPackageVersion IS NOT NULL
GROUP BY uss.LastScanPackageVersion
ORDER BY uss.LastScanPackageVersion DESC
