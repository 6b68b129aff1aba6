-- name: GetInboundMail :one
SELECT * FROM inbound_mail WHERE message_id = $1 AND mailbox = $2;

-- name: RecordInboundMail :exec
-- The first record of a message stays: a redelivery changes nothing.
INSERT INTO inbound_mail (message_id, mailbox, order_id, sender, subject, received_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (message_id, mailbox) DO NOTHING;

-- name: ListInboundMailOfOrder :many
SELECT * FROM inbound_mail WHERE order_id = $1 ORDER BY received_at, mailbox;

-- name: SaveAttachmentOnce :execrows
-- An attachment whose id is derived from its message: saving it again (a redelivery) keeps the first.
INSERT INTO attachments (id, record_id, name, content_type, size, data, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO NOTHING;
