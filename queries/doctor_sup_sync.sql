-- doctor: the SUP sync rows (reference section 3): whether the account may read
-- vSMS_SUPSyncStatus at all (smsschm_users needs an explicit GRANT SELECT, section 9), and
-- the top SUP's catalog version (WSUSSourceServer = 'Microsoft Update') and last sync.
-- A site has one row per SUP: the rows are few, so all are read and the top one picked.
SELECT sup.WSUSServerName, sup.WSUSSourceServer, sup.SyncCatalogVersion,
       sup.LastSuccessfulSyncTime, sup.LastSyncErrorCode
FROM vSMS_SUPSyncStatus sup
ORDER BY sup.WSUSServerName
