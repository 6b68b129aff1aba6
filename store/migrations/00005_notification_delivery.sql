-- +goose Up
-- The delivery log of messages: the HTML part (printouts), who the message was sent to, when.
ALTER TABLE notifications ADD COLUMN html text NOT NULL DEFAULT '';
ALTER TABLE notifications ADD COLUMN sent_to text[] NOT NULL DEFAULT '{}';
ALTER TABLE notifications ADD COLUMN sent_at timestamptz;

-- +goose Down
ALTER TABLE notifications DROP COLUMN sent_at;
ALTER TABLE notifications DROP COLUMN sent_to;
ALTER TABLE notifications DROP COLUMN html;
