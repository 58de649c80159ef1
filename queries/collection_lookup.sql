-- A collection by CollectionID or by name (case-insensitive).
SELECT c.CollectionID, c.Name, c.MemberCount, c.CollectionType
FROM v_Collection c
WHERE UPPER(c.CollectionID) = UPPER(@key) OR UPPER(c.Name) = UPPER(@key)
