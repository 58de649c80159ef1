-- patchnight: recompile
-- Compliance per update over the client machines in scope, in one set-based pass.
-- Required (2) and installed (3) come from v_UpdateComplianceStatus, which holds only those
-- rows; it is read twice, for two disjoint sets of machines (rowsets). A client without a
-- row is "not required" when its last scan of the update's own update source
-- (v_UpdateCIs.UpdateSource_ID) used a catalog that carries the update
-- (LastScanPackageVersion >= MinSourceVersion), and "unknown" otherwise
-- (reference 1.2). Unknown is never compliant.
-- Cost: v_UpdateComplianceStatus has a row per machine and required or installed update
-- (millions on a large site). Machines in scope whose last scan of every update source in
-- play carries every update in play (uptodate) need no per-row scan check: their rows are
-- counted straight off the rows of each update (the (CI_ID, Status) order), with only a
-- membership test per row. Only the rows of the other machines in scope (behind: few on a
-- patched site) are joined to their scan state one by one. The two sets are disjoint, so
-- each row is counted once.
-- Whether v_UpdateCIs exposes MinSourceVersion on a site is unconfirmed (reference 1.2
-- "Types"; `patchnight doctor` is to check it).
-- Titles and flags come from v_UpdateInfo. IsSuperseded is bit on SQL Server: the caller
-- scans it as site.Flag.
-- Parameters: @collection ('' = all clients), @group (SUG CI_ID, 0 = any), @article and
-- @bulletin ('' = any; validated by the caller), @all (1 = every update CI, 0 = only updates
-- some client in scope requires or has installed), @eligible (1 = only the night's eligible
-- machines: active and passing the client check, as night_host_state.sql defines them, so
-- that the morning report's per-update rows add up to its denominator), @exclude1 to
-- @exclude10 (CollectionIDs of excluded collections, '' when unused: queries.MaxExcluded;
-- a machine in any of them, as v_FullCollectionMembership has it, is out of scope, as the
-- night and the morning report's denominator leave the plan's excluded collections out).
WITH scope AS (
    SELECT s.ResourceID
    FROM v_R_System s
    WHERE s.Client0 = 1
      AND COALESCE(s.Obsolete0, 0) = 0
      AND COALESCE(s.Decommissioned0, 0) = 0
      AND (@collection = '' OR s.ResourceID IN (SELECT fcm.ResourceID FROM v_FullCollectionMembership fcm
                                                 WHERE fcm.CollectionID = @collection))
      AND (@eligible = 0 OR (COALESCE(s.Active0, 0) = 1
                             AND s.ResourceID IN (SELECT cdr.MachineID FROM v_CombinedDeviceResources cdr
                                                  WHERE cdr.ClientCheckPass = 1)))
      AND NOT EXISTS (SELECT 1 FROM v_FullCollectionMembership xm
                      WHERE xm.ResourceID = s.ResourceID
                        AND xm.CollectionID IN (@exclude1, @exclude2, @exclude3, @exclude4, @exclude5,
                                                @exclude6, @exclude7, @exclude8, @exclude9, @exclude10))
),
total AS (
    SELECT COUNT(*) AS Clients FROM scope
),
upd AS (
    SELECT uc.CI_ID, uc.UpdateSource_ID, uc.MinSourceVersion
    FROM v_UpdateCIs uc
    WHERE (@group = 0 OR uc.CI_ID IN (SELECT cr.ToCIID FROM v_CIRelation cr
                                      WHERE cr.FromCIID = @group AND cr.RelationType = 1))
      AND (@article = '' OR uc.CI_ID IN (SELECT ui.CI_ID FROM v_UpdateInfo ui WHERE ui.ArticleID = @article))
      AND (@bulletin = '' OR uc.CI_ID IN (SELECT ui.CI_ID FROM v_UpdateInfo ui WHERE ui.BulletinID = @bulletin))
),
srcmax AS (
    SELECT u.UpdateSource_ID, MAX(u.MinSourceVersion) AS MinSourceVersion
    FROM upd u
    GROUP BY u.UpdateSource_ID
),
uptodate AS (
    SELECT sc.ResourceID
    FROM scope sc
    WHERE NOT EXISTS (SELECT 1
                      FROM srcmax m
                      LEFT JOIN v_UpdateScanStatus uss
                             ON uss.ResourceID = sc.ResourceID AND uss.UpdateSource_ID = m.UpdateSource_ID
                      WHERE uss.LastScanPackageVersion IS NULL OR uss.LastScanPackageVersion < m.MinSourceVersion)
),
behind AS (
    SELECT sc.ResourceID FROM scope sc
    WHERE sc.ResourceID NOT IN (SELECT c.ResourceID FROM uptodate c)
),
versions AS (
    SELECT uss.UpdateSource_ID, uss.LastScanPackageVersion AS ScanVersion, COUNT(*) AS Clients
    FROM v_UpdateScanStatus uss
    JOIN scope sc ON sc.ResourceID = uss.ResourceID
    GROUP BY uss.UpdateSource_ID, uss.LastScanPackageVersion
),
rowsets AS (
    -- Up-to-date machines: every row counts as scanned.
    SELECT ucs.CI_ID,
           SUM(CASE WHEN ucs.Status = 2 THEN 1 ELSE 0 END) AS Required,
           SUM(CASE WHEN ucs.Status = 3 THEN 1 ELSE 0 END) AS Installed,
           COUNT(*) AS RowsScanned
    FROM v_UpdateComplianceStatus ucs
    WHERE ucs.CI_ID IN (SELECT u.CI_ID FROM upd u) AND ucs.ResourceID IN (SELECT c.ResourceID FROM uptodate c)
    GROUP BY ucs.CI_ID
    UNION ALL
    -- Machines behind on some update source: each row against its own scan state. CROSS
    -- JOIN with the join conditions in WHERE is an inner join; SQLite keeps the written
    -- order (machines first, then each machine's rows by its key).
    SELECT ucs.CI_ID,
           SUM(CASE WHEN ucs.Status = 2 THEN 1 ELSE 0 END),
           SUM(CASE WHEN ucs.Status = 3 THEN 1 ELSE 0 END),
           SUM(CASE WHEN uss.LastScanPackageVersion >= u.MinSourceVersion THEN 1 ELSE 0 END)
    FROM behind b
    CROSS JOIN v_UpdateComplianceStatus ucs
    CROSS JOIN upd u
    LEFT JOIN v_UpdateScanStatus uss
           ON uss.ResourceID = ucs.ResourceID AND uss.UpdateSource_ID = u.UpdateSource_ID
    WHERE ucs.ResourceID = b.ResourceID AND u.CI_ID = ucs.CI_ID
    GROUP BY ucs.CI_ID
),
stat AS (
    SELECT r.CI_ID, SUM(r.Required) AS Required, SUM(r.Installed) AS Installed, SUM(r.RowsScanned) AS RowsScanned
    FROM rowsets r
    GROUP BY r.CI_ID
),
scanned AS (
    SELECT u.CI_ID, SUM(v.Clients) AS Clients
    FROM upd u
    JOIN versions v ON v.UpdateSource_ID = u.UpdateSource_ID AND v.ScanVersion >= u.MinSourceVersion
    GROUP BY u.CI_ID
)
SELECT u.CI_ID, COALESCE(ui.ArticleID, '') AS ArticleID, COALESCE(ui.BulletinID, '') AS BulletinID,
       ui.Title, COALESCE(ui.Severity, 0) AS Severity, ui.IsSuperseded,
       COALESCE(st.Required, 0) AS Required,
       COALESCE(st.Installed, 0) AS Installed,
       COALESCE(sd.Clients, 0) - COALESCE(st.RowsScanned, 0) AS NotRequired,
       t.Clients AS Clients
FROM upd u
JOIN v_UpdateInfo ui ON ui.CI_ID = u.CI_ID
CROSS JOIN total t
LEFT JOIN stat st ON st.CI_ID = u.CI_ID
LEFT JOIN scanned sd ON sd.CI_ID = u.CI_ID
WHERE @all = 1 OR @group <> 0 OR @article <> '' OR @bulletin <> '' OR st.CI_ID IS NOT NULL
ORDER BY ui.ArticleID, u.CI_ID
