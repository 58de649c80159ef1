-- doctor: the clients online now on the fast channel (CNIsOnline = 1) and the latest time
-- one of them came online (CNLastOnlineTime, v_CombinedDeviceResources). Whether the site
-- keeps that time in UTC, as patchnight reads it, is not in the reference: the doctor holds
-- the latest against the server's clock. CNIsOnline is only compared (bit or int).
SELECT COUNT(*) AS Online, MAX(cdr.CNLastOnlineTime) AS Latest
FROM v_CombinedDeviceResources cdr
WHERE cdr.CNIsOnline = 1
  AND cdr.IsClient = 1
