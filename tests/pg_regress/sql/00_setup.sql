-- Runs first (files run in name order in one database).
CREATE EXTENSION ruvec;
-- err(q): run q, return 'SQLSTATE: message' of the error it raises (or 'no error'), so the
-- golden files pin the exact SQLSTATE of every user-facing failure.
CREATE FUNCTION err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT ruvec.version() IS NOT NULL AS has_version, ruvec.simd_backend() <> '' AS has_simd;
