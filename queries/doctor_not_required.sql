-- doctor: patchnight's rule for the statuses v_UpdateComplianceStatus has no row for, held
-- against the site's own v_Update_ComplianceStatusAll for one client machine (@resource_id, a
-- ResourceID). The rule (reference 1.2, "Which rows exist"; the exact rule is marked
-- unconfirmed in the reference's table): required and installed are the rows; without a row
-- an update is not required (1) when the machine's last scan of the update's own update
-- source carried the update's catalog (LastScanPackageVersion >= MinSourceVersion), unknown
-- (0) otherwise. The compliance report, a machine's updates and the night's "known" count
-- read it so (queries/compliance.sql, host_updates.sql, night_host_state.sql). The All view
-- is the most expensive status view: one machine only.
SELECT COUNT(*) AS Updates,
       SUM(CASE WHEN d.SiteStatus = d.Derived THEN 1 ELSE 0 END) AS Agree,
       SUM(CASE WHEN d.SiteStatus = 1 AND d.Derived = 0 THEN 1 ELSE 0 END) AS SiteNotRequired,
       SUM(CASE WHEN d.SiteStatus = 0 AND d.Derived = 1 THEN 1 ELSE 0 END) AS SiteUnknown,
       MIN(CASE WHEN d.SiteStatus <> d.Derived THEN d.CI_ID END) AS Example
FROM (SELECT al.CI_ID, al.Status AS SiteStatus,
             COALESCE(ucs.Status,
                      CASE WHEN uss.LastScanPackageVersion >= uc.MinSourceVersion THEN 1 ELSE 0 END) AS Derived
      FROM v_Update_ComplianceStatusAll al
      JOIN v_UpdateCIs uc ON uc.CI_ID = al.CI_ID
      LEFT JOIN v_UpdateComplianceStatus ucs ON ucs.CI_ID = al.CI_ID AND ucs.ResourceID = al.ResourceID
      LEFT JOIN v_UpdateScanStatus uss
             ON uss.ResourceID = al.ResourceID AND uss.UpdateSource_ID = uc.UpdateSource_ID
      WHERE al.ResourceID = @resource_id) d
