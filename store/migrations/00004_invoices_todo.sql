-- +goose Up

-- One invoice per service request, at most: the key makes issuing it idempotent, so a retried
-- close or a crashed worker can never bill twice.
CREATE TABLE invoices (
    request_id uuid PRIMARY KEY,
    number     text NOT NULL UNIQUE,
    total      numeric(14, 2) NOT NULL,
    lines      jsonb NOT NULL,
    issued_at  timestamptz NOT NULL
);

-- The to-do center: open activities and pending approvals of every record, by who may act on them.
-- Written with each projection of the record.
CREATE TABLE todo_items (
    id         text PRIMARY KEY,
    record_id  uuid NOT NULL,
    number     text NOT NULL,
    kind       text NOT NULL,
    title      text NOT NULL,
    users      text[] NOT NULL DEFAULT '{}',
    groups     text[] NOT NULL DEFAULT '{}',
    roles      text[] NOT NULL DEFAULT '{}',
    contact    boolean NOT NULL DEFAULT false,
    due        timestamptz,
    created_at timestamptz NOT NULL
);
CREATE INDEX todo_items_record ON todo_items (record_id);
CREATE INDEX todo_items_users ON todo_items USING gin (users);
CREATE INDEX todo_items_groups ON todo_items USING gin (groups);
CREATE INDEX todo_items_roles ON todo_items USING gin (roles);

-- +goose Down
DROP TABLE todo_items;
DROP TABLE invoices;
