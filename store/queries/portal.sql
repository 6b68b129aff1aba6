-- name: InsertDevice :execrows
INSERT INTO devices (code, account, category, model, serial, contact_id, created_by, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (code) DO NOTHING;

-- name: GetDevice :one
SELECT * FROM devices WHERE code = $1;

-- name: ReplacePortalCode :exec
-- A new code replaces the email's earlier one, with its attempts and use reset.
INSERT INTO portal_codes (email, code_hash, expires_at, attempts, used_at, created_at)
VALUES (sqlc.arg(email), sqlc.arg(code_hash), sqlc.arg(expires_at), 0, NULL, sqlc.arg(created_at))
ON CONFLICT (email) DO UPDATE SET
    code_hash = EXCLUDED.code_hash, expires_at = EXCLUDED.expires_at, attempts = 0, used_at = NULL,
    created_at = EXCLUDED.created_at;

-- name: TryPortalCode :one
-- One attempt at the email's live code, under the row's lock: the right code uses it up, a wrong
-- one counts. No row: there is no live code (none asked for, expired, used, or locked).
UPDATE portal_codes SET
    used_at = CASE WHEN code_hash = sqlc.arg(code_hash) THEN sqlc.arg(now)::timestamptz ELSE NULL END,
    attempts = CASE WHEN code_hash = sqlc.arg(code_hash) THEN attempts ELSE attempts + 1 END
WHERE email = sqlc.arg(email) AND used_at IS NULL AND expires_at > sqlc.arg(now)::timestamptz
  AND attempts < sqlc.arg(max_attempts)::integer
RETURNING (used_at IS NOT NULL)::boolean AS accepted, attempts;

-- name: GetPortalCode :one
SELECT * FROM portal_codes WHERE email = $1;
