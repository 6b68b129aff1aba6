-- +goose Up
-- Files attached to records: the bytes here, the list on the record.
CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    record_id    uuid NOT NULL,
    name         text NOT NULL,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    data         bytea NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_record ON attachments (record_id);

-- +goose Down
DROP TABLE attachments;
