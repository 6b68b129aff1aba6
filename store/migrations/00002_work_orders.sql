-- +goose Up

-- The version of each definition that new runs use: written when the API loads or reloads the
-- definitions folder. Older versions stay in definitions for the runs pinned to them.
CREATE TABLE definition_heads (
    key        text PRIMARY KEY,
    kind       text NOT NULL,
    version    text NOT NULL REFERENCES definitions (version),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The projection of work orders, written only by their workflows.
CREATE TABLE work_orders (
    id          uuid PRIMARY KEY,
    number      text NOT NULL UNIQUE,
    record_type text NOT NULL,
    stage       text NOT NULL,
    state       text NOT NULL,
    node        text NOT NULL DEFAULT '',
    priority    text NOT NULL,
    engineer    text NOT NULL DEFAULT '',
    group_name  text NOT NULL DEFAULT '',
    parent      text NOT NULL DEFAULT '',
    revision    bigint NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    doc         jsonb NOT NULL
);
CREATE INDEX work_orders_created ON work_orders (created_at DESC, id DESC);
CREATE INDEX work_orders_type_state ON work_orders (record_type, state, created_at DESC);
CREATE INDEX work_orders_engineer ON work_orders (engineer, state);

CREATE TABLE work_order_events (
    order_id uuid NOT NULL REFERENCES work_orders (id),
    seq      bigint NOT NULL,
    type     text NOT NULL,
    actor    text NOT NULL,
    at       timestamptz NOT NULL,
    details  jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (order_id, seq)
);

-- Messages produced by notify actions and nodes, one row per effect: rendered, with their
-- recipients and channels. Delivery over SMTP, SMS and WeChat reads from here.
CREATE TABLE notifications (
    record_id  uuid NOT NULL,
    effect_id  text NOT NULL,
    template   text NOT NULL,
    recipients text[] NOT NULL,
    channels   text[] NOT NULL,
    subject    text NOT NULL,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (record_id, effect_id)
);

-- +goose Down
DROP TABLE notifications;
DROP TABLE work_order_events;
DROP TABLE work_orders;
DROP TABLE definition_heads;
