-- name: InsertAPIToken :execrows
INSERT INTO api_tokens (id, name, hash, roles, groups, created_by) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (name) DO NOTHING;

-- name: GetLiveAPIToken :one
SELECT name, roles, groups, last_used_at FROM api_tokens WHERE hash = $1 AND revoked_at IS NULL;

-- name: TouchAPIToken :exec
UPDATE api_tokens SET last_used_at = now() WHERE hash = $1;

-- name: ListAPITokens :many
SELECT id, name, roles, groups, created_by, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY created_at, name;

-- name: RevokeAPIToken :execrows
UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL;
