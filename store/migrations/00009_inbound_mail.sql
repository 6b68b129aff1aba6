-- +goose Up

-- Messages the service mailboxes turned into work orders: one row per message and mailbox (a
-- message copied to two mailboxes makes an order in each). A message delivered again, with the
-- same Message-ID, finds its row and creates nothing new.
CREATE TABLE inbound_mail (
    message_id  text NOT NULL,
    mailbox     text NOT NULL,
    order_id    uuid NOT NULL,
    sender      text NOT NULL DEFAULT '',
    subject     text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (message_id, mailbox)
);
CREATE INDEX inbound_mail_order ON inbound_mail (order_id);

-- +goose Down
DROP TABLE inbound_mail;
