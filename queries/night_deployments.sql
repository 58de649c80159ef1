-- The deployments of a software update group (@group, a CI_ID; 0 = every deployment): the 16:00 check that the
-- night's updates are deployed with the intended settings. Columns beyond AssignmentID and
-- CollectionID are unconfirmed on a real site (reference 1.2).
SELECT a.AssignmentID, a.AssignmentName, a.CollectionID, COALESCE(a.CollectionName, '') AS CollectionName,
       a.DesiredConfigType, a.StartTime, a.EnforcementDeadline, a.SuppressReboot, a.NotifyUser,
       a.AssignmentEnabled,
       (SELECT COUNT(*) FROM v_CIAssignmentToCI ac WHERE ac.AssignmentID = a.AssignmentID) AS Updates,
       a.AssignedGroupCI_ID
FROM v_CIAssignment a
WHERE @group = 0
   OR a.AssignedGroupCI_ID = @group
   OR a.AssignmentID IN (SELECT ac.AssignmentID FROM v_CIAssignmentToCI ac
                         WHERE ac.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr
                                            WHERE cr.FromCIID = @group AND cr.RelationType = 1))
ORDER BY a.AssignmentID
