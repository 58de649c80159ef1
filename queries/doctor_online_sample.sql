-- doctor: online clients (fast channel, CNIsOnline = 1) to probe over WinRM, by name; the
-- caller reads as many rows as its sample needs and stops.
SELECT cdr.MachineID AS ResourceID, cdr.Name
FROM v_CombinedDeviceResources cdr
WHERE cdr.CNIsOnline = 1
  AND cdr.IsClient = 1
ORDER BY cdr.Name
