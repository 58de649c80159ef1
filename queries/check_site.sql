-- Touches every view patchnight reads, returning no rows: a database without them fails
-- here with the name of the first missing view.
SELECT 1 AS ok
FROM v_R_System r, v_RA_System_IPSubnets rs, v_RA_System_MACAddresses rm,
     v_GS_NETWORK_ADAPTER_CONFIGURATION na, v_CombinedDeviceResources cdr, v_CH_ClientSummary ch,
     v_UpdateInfo ui, v_UpdateCIs uc, v_UpdateComplianceStatus ucs, v_UpdateScanStatus uss,
     v_SoftwareUpdateSource sus, vSMS_SUPSyncStatus sup, v_AuthListInfo al, v_CIRelation cr,
     v_CIAssignment ca, v_CIAssignmentToCI cac, v_CIAssignmentToGroup cag,
     v_CIAssignmentTargetedMachines ctm, v_Collection c, v_Collections cs,
     v_FullCollectionMembership fcm, v_CollectionRuleQuery crq, v_StateNames sn
WHERE 1 = 0
