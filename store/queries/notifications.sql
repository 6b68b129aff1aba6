-- name: SaveNotification :exec
INSERT INTO notifications (record_id, effect_id, template, recipients, channels, subject, body)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (record_id, effect_id) DO NOTHING;

-- name: ListNotifications :many
SELECT * FROM notifications WHERE record_id = $1 ORDER BY created_at, effect_id;
