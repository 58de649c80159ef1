-- patchnight: recompile
-- Per client machine in scope (@scope; '' = every client), one row per enclosure: the
-- chassis types of hardware inventory of Win32_SystemEnclosure.ChassisTypes (a uint16 array,
-- CIM_Chassis values: learn.microsoft.com cimwin32prov/win32-systemenclosure), for the
-- follow-up report by machine kind (issue 17). The view v_GS_SYSTEM_ENCLOSURE and its column
-- ChassisTypes0 are the community's names, unconfirmed, and so is how the array is stored:
-- the column is read as text and the Go code takes every number in it. `patchnight doctor`
-- describes this query and names the view or column when a site lacks it.
SELECT e.ResourceID, CAST(e.ChassisTypes0 AS VARCHAR(256)) AS ChassisTypes
FROM v_GS_SYSTEM_ENCLOSURE e
WHERE e.ChassisTypes0 IS NOT NULL
  AND (@scope = '' OR e.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                       WHERE fcm.CollectionID = @scope))
