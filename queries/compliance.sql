-- Compliance per update over the client machines in scope, in one set-based pass.
-- Required (2) and installed (3) come from v_UpdateComplianceStatus, which holds only those
-- rows. A client without a row is "not required" when its last scan (publishing update
-- source) used a catalog that carries the update (LastScanPackageVersion >= MinSourceVersion),
-- and "unknown" otherwise (reference 1.2). Unknown is never compliant.
-- Parameters: @collection ('' = all clients), @group (SUG CI_ID, 0 = any), @article and
-- @bulletin ('' = any; validated by the caller), @all (1 = every update CI, 0 = only updates
-- some client requires or has installed).
WITH scope AS (
    SELECT s.ResourceID, COALESCE(uss.LastScanPackageVersion, -1) AS ScanVersion
    FROM v_R_System s
    LEFT JOIN v_UpdateScanStatus uss
           ON uss.ResourceID = s.ResourceID
          AND uss.UpdateSource_ID = (SELECT MIN(src.UpdateSource_ID) FROM v_SoftwareUpdateSource src
                                     WHERE src.IsPublishingEnabled = 1)
    WHERE s.Client0 = 1
      AND COALESCE(s.Obsolete0, 0) = 0
      AND COALESCE(s.Decommissioned0, 0) = 0
      AND (@collection = '' OR s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                                 WHERE fcm.CollectionID = @collection))
),
versions AS (
    SELECT ScanVersion, COUNT(*) AS Clients FROM scope GROUP BY ScanVersion
),
total AS (
    SELECT COUNT(*) AS Clients FROM scope
),
upd AS (
    SELECT ui.CI_ID, ui.ArticleID, ui.BulletinID, ui.Title, ui.Severity, ui.IsSuperseded,
           ui.MinSourceVersion
    FROM v_UpdateCIs ui
    WHERE (@group = 0 OR ui.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr
                                      WHERE cr.FromCIID = @group AND cr.RelationType = 1))
      AND (@article = '' OR ui.ArticleID = @article)
      AND (@bulletin = '' OR ui.BulletinID = @bulletin)
      AND (@all = 1 OR @group <> 0 OR @article <> '' OR @bulletin <> ''
           OR ui.CI_ID IN (SELECT DISTINCT ucs.CI_ID FROM v_UpdateComplianceStatus ucs))
),
stat AS (
    SELECT ucs.CI_ID,
           SUM(CASE WHEN ucs.Status = 2 THEN 1 ELSE 0 END) AS Required,
           SUM(CASE WHEN ucs.Status = 3 THEN 1 ELSE 0 END) AS Installed,
           SUM(CASE WHEN sc.ScanVersion >= u.MinSourceVersion THEN 1 ELSE 0 END) AS RowsScanned
    FROM v_UpdateComplianceStatus ucs
    JOIN scope sc ON sc.ResourceID = ucs.ResourceID
    JOIN upd u ON u.CI_ID = ucs.CI_ID
    GROUP BY ucs.CI_ID
),
scanned AS (
    SELECT u.CI_ID, SUM(v.Clients) AS Clients
    FROM upd u
    JOIN versions v ON v.ScanVersion >= u.MinSourceVersion
    GROUP BY u.CI_ID
)
SELECT u.CI_ID, COALESCE(u.ArticleID, '') AS ArticleID, COALESCE(u.BulletinID, '') AS BulletinID,
       u.Title, COALESCE(u.Severity, 0) AS Severity, u.IsSuperseded,
       COALESCE(st.Required, 0) AS Required,
       COALESCE(st.Installed, 0) AS Installed,
       COALESCE(sd.Clients, 0) - COALESCE(st.RowsScanned, 0) AS NotRequired,
       t.Clients AS Clients
FROM upd u
CROSS JOIN total t
LEFT JOIN stat st ON st.CI_ID = u.CI_ID
LEFT JOIN scanned sd ON sd.CI_ID = u.CI_ID
ORDER BY u.ArticleID, u.CI_ID
