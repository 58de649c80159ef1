-- patchnight: recompile
-- The deployments of a software update group (@group, a CI_ID; 0 = every deployment): the
-- 16:00 check that the night's updates are deployed with the intended settings.
-- A deployment is linked to its group by v_CIAssignmentToGroup.AssignedUpdateGroup; the
-- deployment view itself has no group column (reference 1.2). Deployments of single
-- updates of the group (no group link; AssignedUpdateGroup NULL) are found through
-- v_CIAssignmentToCI. SuppressReboot is a bit mask (1 workstations, 2 servers), read
-- through CAST so that it is an integer whatever its SQL type; NotifyUser and
-- AssignmentEnabled are flags whose SQL type (bit or int) is unconfirmed: the caller scans
-- them as site.Flag. Column names beyond AssignmentID and CollectionID are unconfirmed on a
-- real site (reference 1.2; docs/reference-additions.md).
SELECT a.AssignmentID, a.AssignmentName, a.CollectionID, COALESCE(a.CollectionName, '') AS CollectionName,
       a.DesiredConfigType, a.StartTime, a.EnforcementDeadline,
       CAST(a.SuppressReboot AS INT) AS SuppressReboot, a.NotifyUser, a.AssignmentEnabled,
       (SELECT COUNT(*) FROM v_CIAssignmentToCI ac WHERE ac.AssignmentID = a.AssignmentID) AS Updates,
       (SELECT MIN(ag.AssignedUpdateGroup) FROM v_CIAssignmentToGroup ag
        WHERE ag.AssignmentID = a.AssignmentID) AS AssignedUpdateGroup
FROM v_CIAssignment a
WHERE @group = 0
   OR a.AssignmentID IN (SELECT ag.AssignmentID FROM v_CIAssignmentToGroup ag WHERE ag.AssignedUpdateGroup = @group)
   OR a.AssignmentID IN (SELECT ac.AssignmentID FROM v_CIAssignmentToCI ac
                         WHERE ac.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr
                                            WHERE cr.FromCIID = @group AND cr.RelationType = 1))
ORDER BY a.AssignmentID
