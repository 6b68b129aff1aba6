-- +goose Up
-- How a message went out on each of its channels: {"sms": {"sent": false, "outcome": "failed: 502
-- from provider", "at": "…"}, "email": {"sent": true, …}}. A retried activity resumes from here and
-- sends again on no channel that already delivered it.
ALTER TABLE notifications ADD COLUMN deliveries jsonb NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE notifications DROP COLUMN deliveries;
