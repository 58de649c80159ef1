-- patchnight: recompile
-- Per client machine in scope (@scope; '' = every client): whether the site says it is a
-- virtual machine (issue 17: the follow-up report by machine kind). SMS_R_System has the
-- Boolean IsVirtualMachine (memdocs); the SQL column v_R_System.Is_Virtual_Machine0 is the
-- community's name and its type (bit or int) is unconfirmed (docs/reference-additions.md):
-- `patchnight doctor` describes this query and names the column when a site lacks it.
SELECT s.ResourceID, COALESCE(s.Is_Virtual_Machine0, 0) AS IsVirtual
FROM v_R_System s
WHERE s.Client0 = 1
  AND (@scope = '' OR s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                       WHERE fcm.CollectionID = @scope))
