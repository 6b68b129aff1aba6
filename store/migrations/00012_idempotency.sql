-- +goose Up
-- One row per (caller, Idempotency-Key) of a POST: the hash of the first request, and once it is
-- answered with a final outcome, that answer, replayed to every retry with the same key and body.
-- A row without completed_at is a request still running (or one whose process died: it is taken
-- over once stale). Rows older than the API's FIELDFLOW_IDEMPOTENCY_TTL are ignored and deleted.
CREATE TABLE idempotency_keys (
    principal    text        NOT NULL,
    key          text        NOT NULL,
    method       text        NOT NULL,
    path         text        NOT NULL,
    request_hash bytea       NOT NULL,
    status       int,
    content_type text        NOT NULL DEFAULT '',
    location     text        NOT NULL DEFAULT '',
    body         bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
