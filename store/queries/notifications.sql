-- name: SaveNotification :exec
INSERT INTO notifications (record_id, effect_id, template, recipients, channels, subject, body, html)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (record_id, effect_id) DO NOTHING;

-- name: GetNotification :one
SELECT * FROM notifications WHERE record_id = $1 AND effect_id = $2;

-- name: MarkNotificationSent :exec
UPDATE notifications SET sent_to = $3, sent_at = $4 WHERE record_id = $1 AND effect_id = $2;

-- name: ListNotifications :many
SELECT * FROM notifications WHERE record_id = $1 ORDER BY created_at, effect_id;

-- name: MarkNotificationChannel :exec
UPDATE notifications SET deliveries = deliveries || jsonb_build_object(sqlc.arg(channel)::text, sqlc.arg(delivery)::jsonb)
WHERE record_id = sqlc.arg(record_id) AND effect_id = sqlc.arg(effect_id);
