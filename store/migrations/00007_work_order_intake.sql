-- +goose Up

-- Work orders list by channel; todo items of work orders are kept like those of requests.
ALTER TABLE work_orders ADD COLUMN channel text NOT NULL DEFAULT '';
ALTER TABLE work_orders ADD COLUMN source text NOT NULL DEFAULT '';
CREATE INDEX work_orders_group ON work_orders (group_name, state);

-- The people records are for. Every channel matches the person by email or phone (normalized),
-- or creates them, so one customer's requests and work orders meet under one contact.
CREATE TABLE contacts (
    id         uuid PRIMARY KEY,
    name       text NOT NULL DEFAULT '',
    email      text NOT NULL DEFAULT '',
    phone      text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX contacts_email ON contacts (email) WHERE email <> '';
CREATE UNIQUE INDEX contacts_phone ON contacts (phone) WHERE phone <> '';

-- Another system's own reference for a work order it pushed: unique per source. Claimed before
-- the order's run starts, so two pushes of one reference never make two orders.
CREATE TABLE work_order_refs (
    source       text NOT NULL,
    external_ref text NOT NULL,
    order_id     uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, external_ref)
);

-- +goose Down
DROP TABLE work_order_refs;
DROP TABLE contacts;
DROP INDEX work_orders_group;
ALTER TABLE work_orders DROP COLUMN source;
ALTER TABLE work_orders DROP COLUMN channel;
