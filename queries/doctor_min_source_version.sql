-- doctor: whether v_UpdateCIs exposes MinSourceVersion (unconfirmed in reference 1.2: it
-- is a column of the base table CI_UpdateCIs). Names the column and returns no rows.
SELECT uc.CI_ID, uc.MinSourceVersion
FROM v_UpdateCIs uc
WHERE 1 = 0
