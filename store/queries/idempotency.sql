-- name: DeleteIdempotencyKeyIfStale :execrows
-- Removes the caller's key when it has expired, or when it is still pending after the stale window
-- (the process answering it died).
DELETE FROM idempotency_keys
WHERE principal = sqlc.arg(principal) AND key = sqlc.arg(key)
  AND (created_at < sqlc.arg(expired_before)::timestamptz
       OR (completed_at IS NULL AND created_at < sqlc.arg(stale_before)::timestamptz));

-- name: InsertIdempotencyKey :one
INSERT INTO idempotency_keys (principal, key, method, path, request_hash)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (principal, key) DO NOTHING
RETURNING *;

-- name: GetIdempotencyKey :one
SELECT * FROM idempotency_keys WHERE principal = $1 AND key = $2;

-- name: CompleteIdempotencyKey :execrows
UPDATE idempotency_keys
SET status = $4, content_type = $5, location = $6, body = $7, completed_at = now()
WHERE principal = $1 AND key = $2 AND request_hash = $3 AND completed_at IS NULL;

-- name: ReleaseIdempotencyKey :execrows
DELETE FROM idempotency_keys
WHERE principal = $1 AND key = $2 AND request_hash = $3 AND completed_at IS NULL;

-- name: DeleteIdempotencyKeysBefore :execrows
DELETE FROM idempotency_keys WHERE created_at < sqlc.arg(before)::timestamptz;

-- name: TouchIdempotencyKey :execrows
-- Keeps a pending key fresh while its request runs: the stale window counts from the last touch,
-- so a key whose process died is taken over soon, and one whose request still runs never is.
UPDATE idempotency_keys SET created_at = now()
WHERE principal = $1 AND key = $2 AND request_hash = $3 AND completed_at IS NULL;
