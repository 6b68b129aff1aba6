-- name: SaveAttachment :exec
INSERT INTO attachments (id, record_id, name, content_type, size, data, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: GetAttachment :one
SELECT * FROM attachments WHERE id = $1 AND record_id = $2;

-- name: DeleteAttachment :exec
DELETE FROM attachments WHERE id = $1;
