-- doctor: whether v_UpdateCIs exposes MinSourceVersion and UpdateSource_ID (unconfirmed in
-- reference 1.2: both are columns of the base table CI_UpdateCIs; the compliance queries join
-- each update to the scan of its own UpdateSource_ID). Names the columns and returns no rows.
SELECT uc.CI_ID, uc.UpdateSource_ID, uc.MinSourceVersion
FROM v_UpdateCIs uc
WHERE 1 = 0
