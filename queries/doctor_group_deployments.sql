-- doctor: the deployments of a software update group (@group, its CI_ID), through
-- v_CIAssignmentToGroup.AssignedUpdateGroup, the link from a deployment to its group
-- (reference 1.2).
SELECT atg.AssignmentID, COALESCE(a.AssignmentName, '') AS AssignmentName, a.CollectionID
FROM v_CIAssignmentToGroup atg
JOIN v_CIAssignment a ON a.AssignmentID = atg.AssignmentID
WHERE atg.AssignedUpdateGroup = @group
ORDER BY atg.AssignmentID
