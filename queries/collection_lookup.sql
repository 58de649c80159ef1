-- A collection by CollectionID or by name. The site's collation is case-insensitive, so
-- `=` matches either spelling (the lab declares these columns COLLATE NOCASE); no UPPER(),
-- which would defeat the index seek. Two seekable branches instead of one OR.
SELECT c.CollectionID, c.Name, c.MemberCount, c.CollectionType
FROM v_Collection c
WHERE c.CollectionID = @key
UNION
SELECT c.CollectionID, c.Name, c.MemberCount, c.CollectionType
FROM v_Collection c
WHERE c.Name = @key
