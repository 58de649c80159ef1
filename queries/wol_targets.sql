-- patchnight: recompile
-- Wake-on-LAN targets (pkg/wol). Per machine: its IPv4-enabled adapters from hardware
-- inventory (MAC, address and mask comma lists, paired by position in Go: inferred, not
-- documented, reference 7 "inputs"; `patchnight doctor`, check adapter-masks, tests it on
-- the site), and, for machines without an enabled inventory adapter, the discovery MACs,
-- addresses and subnet IDs; plus the name and the fast-channel online state. One row per
-- machine (Source 'sys'), per adapter ('hinv') and per discovery value ('ra_mac', 'ra_ip',
-- 'ra_subnet'), ordered by machine. Obsolete and decommissioned records are left out.
-- @collection: a CollectionID, resolved from an ID or name in Go beforehand (one seekable
-- predicate); '' selects every machine.
SELECT s.ResourceID, s.Name0 AS Name,
       CASE WHEN cdr.CNIsOnline = 1 THEN 1 ELSE 0 END AS Online,
       'sys' AS Source,
       CAST(NULL AS VARCHAR(1)) AS MAC, CAST(NULL AS VARCHAR(1)) AS IPs, CAST(NULL AS VARCHAR(1)) AS Masks
FROM v_R_System s
LEFT JOIN v_CombinedDeviceResources cdr ON cdr.MachineID = s.ResourceID
WHERE COALESCE(s.Obsolete0, 0) = 0 AND COALESCE(s.Decommissioned0, 0) = 0
  AND (@collection = '' OR s.ResourceID IN (
        SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
        WHERE fcm.CollectionID = @collection))
UNION ALL
SELECT na.ResourceID, NULL, 0, 'hinv', na.MACAddress0, na.IPAddress0, na.IPSubnet0
FROM v_GS_NETWORK_ADAPTER_CONFIGURATION na
JOIN v_R_System s ON s.ResourceID = na.ResourceID
WHERE na.IPEnabled0 = 1
  AND COALESCE(s.Obsolete0, 0) = 0 AND COALESCE(s.Decommissioned0, 0) = 0
  AND (@collection = '' OR s.ResourceID IN (
        SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
        WHERE fcm.CollectionID = @collection))
UNION ALL
SELECT m.ResourceID, NULL, 0, 'ra_mac', m.MAC_Addresses0, NULL, NULL
FROM v_RA_System_MACAddresses m
JOIN v_R_System s ON s.ResourceID = m.ResourceID
WHERE COALESCE(s.Obsolete0, 0) = 0 AND COALESCE(s.Decommissioned0, 0) = 0
  AND NOT EXISTS (SELECT 1 FROM v_GS_NETWORK_ADAPTER_CONFIGURATION na
                  WHERE na.ResourceID = m.ResourceID AND na.IPEnabled0 = 1)
  AND (@collection = '' OR s.ResourceID IN (
        SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
        WHERE fcm.CollectionID = @collection))
UNION ALL
SELECT i.ResourceID, NULL, 0, 'ra_ip', NULL, i.IP_Addresses0, NULL
FROM v_RA_System_IPAddresses i
JOIN v_R_System s ON s.ResourceID = i.ResourceID
WHERE COALESCE(s.Obsolete0, 0) = 0 AND COALESCE(s.Decommissioned0, 0) = 0
  AND NOT EXISTS (SELECT 1 FROM v_GS_NETWORK_ADAPTER_CONFIGURATION na
                  WHERE na.ResourceID = i.ResourceID AND na.IPEnabled0 = 1)
  AND (@collection = '' OR s.ResourceID IN (
        SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
        WHERE fcm.CollectionID = @collection))
UNION ALL
SELECT sn.ResourceID, NULL, 0, 'ra_subnet', NULL, NULL, sn.IP_Subnets0
FROM v_RA_System_IPSubnets sn
JOIN v_R_System s ON s.ResourceID = sn.ResourceID
WHERE COALESCE(s.Obsolete0, 0) = 0 AND COALESCE(s.Decommissioned0, 0) = 0
  AND NOT EXISTS (SELECT 1 FROM v_GS_NETWORK_ADAPTER_CONFIGURATION na
                  WHERE na.ResourceID = sn.ResourceID AND na.IPEnabled0 = 1)
  AND (@collection = '' OR s.ResourceID IN (
        SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
        WHERE fcm.CollectionID = @collection))
ORDER BY ResourceID, Source
