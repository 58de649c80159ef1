-- patchnight: recompile
-- Wake-on-LAN confirmation (pkg/wol): the fast-channel online state of every machine in
-- scope, in one set-based read (never a query per host).
-- @collection: a CollectionID, resolved from an ID or name in Go beforehand (one seekable
-- predicate); '' reads every machine.
SELECT cdr.MachineID AS ResourceID,
       CASE WHEN cdr.CNIsOnline = 1 THEN 1 ELSE 0 END AS Online
FROM v_CombinedDeviceResources cdr
WHERE @collection = '' OR cdr.MachineID IN (
        SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
        WHERE fcm.CollectionID = @collection)
