-- SQL twin of the enforcement-state rules (pending restart: @state = 9, install failed:
-- @state = 11; topic 402): machines with any update whose LastEnforcementMessageID is
-- @state, within the limiting collection (@limit), like the WQL
--   SMS_R_System join SMS_UpdateComplianceStatus where LastEnforcementMessageID = 9
SELECT s.ResourceID, COALESCE(s.Name0, '') AS Name
FROM v_R_System s
WHERE s.ResourceID IN (SELECT ucs.ResourceID FROM v_UpdateComplianceStatus ucs
                       WHERE ucs.LastEnforcementMessageID = @state)
  AND s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm WHERE fcm.CollectionID = @limit)
ORDER BY COALESCE(s.Name0, ''), s.ResourceID
