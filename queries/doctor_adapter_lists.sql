-- doctor: the address and mask lists of every IP-enabled adapter in hardware inventory
-- (v_GS_NETWORK_ADAPTER_CONFIGURATION IPAddress0 and IPSubnet0: comma lists, IPv4 then
-- IPv6, reference 1.1). The Wake-on-LAN planner pairs the two lists entry by entry; that
-- the entries pair by position is inferred (reference 7, "inputs"): the doctor checks that,
-- by position, each IPv4 address meets a dotted mask and each IPv6 address a prefix length.
SELECT na.ResourceID, COALESCE(na.IPAddress0, '') AS IPs, COALESCE(na.IPSubnet0, '') AS Masks
FROM v_GS_NETWORK_ADAPTER_CONFIGURATION na
WHERE na.IPEnabled0 = 1
  AND COALESCE(na.IPAddress0, '') <> ''
ORDER BY na.ResourceID
