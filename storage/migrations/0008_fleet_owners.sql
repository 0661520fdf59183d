-- Fleet control is a platform operator's: an operator key is an admin key
-- that may also run the shared fleet. Nodes and their enrollment tokens
-- have an owner: '' for the operator's shared fleet, or the organization
-- whose own node it is (only its instances run there).

ALTER TABLE api_keys ADD COLUMN operator BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE nodes ADD COLUMN org_id TEXT NOT NULL DEFAULT '';
ALTER TABLE node_enroll_tokens ADD COLUMN org_id TEXT NOT NULL DEFAULT '';

-- A platform made before operators existed keeps one: its oldest live
-- admin key (the first key `roost serve` printed).
UPDATE api_keys SET operator = TRUE WHERE id = (
    SELECT id FROM api_keys WHERE admin AND revoked_at IS NULL ORDER BY created_at, id LIMIT 1);
