-- name: InsertAPIToken :execrows
INSERT INTO api_tokens (id, name, hash, roles, groups, created_by) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (name) DO NOTHING;

-- name: UseAPIToken :one
-- The live token with this hash, marking it used (at most once a minute, to spare writes).
UPDATE api_tokens SET last_used_at = now()
WHERE hash = $1 AND revoked_at IS NULL
  AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
RETURNING name, roles, groups;

-- name: GetLiveAPIToken :one
SELECT name, roles, groups FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL;

-- name: ListAPITokens :many
SELECT id, name, roles, groups, created_by, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY created_at, name;

-- name: RevokeAPIToken :execrows
UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL;
