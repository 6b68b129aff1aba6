-- +goose Up

-- Definitions by content hash: a run pins one of these rows, so editing YAML affects only new runs.
CREATE TABLE definitions (
    version     text PRIMARY KEY,
    key         text NOT NULL,
    kind        text NOT NULL,
    source_file text NOT NULL,
    source      text NOT NULL,
    compiled    jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX definitions_key ON definitions (key, created_at DESC);

-- Sequences for record numbers, one per scope ("SR-2026-{seq}").
CREATE TABLE number_sequences (
    scope      text PRIMARY KEY,
    last_value bigint NOT NULL
);

-- The number given to each record, so asking again for the same record returns the same number.
CREATE TABLE record_numbers (
    record_id uuid PRIMARY KEY,
    scope     text NOT NULL,
    seq       bigint NOT NULL,
    UNIQUE (scope, seq)
);

-- The projection of service requests, written only by their workflows. doc is the whole record as
-- the API returns it; the other columns are there to filter and sort.
CREATE TABLE service_requests (
    id         uuid PRIMARY KEY,
    number     text NOT NULL UNIQUE,
    queue      text NOT NULL,
    stage      text NOT NULL,
    state      text NOT NULL,
    priority   text NOT NULL,
    owner      text NOT NULL DEFAULT '',
    team       text NOT NULL DEFAULT '',
    tags       text[] NOT NULL DEFAULT '{}',
    revision   bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    doc        jsonb NOT NULL
);
CREATE INDEX service_requests_created ON service_requests (created_at DESC, id DESC);
CREATE INDEX service_requests_queue_state ON service_requests (queue, state, created_at DESC);
CREATE INDEX service_requests_owner ON service_requests (owner, created_at DESC);
CREATE INDEX service_requests_tags ON service_requests USING gin (tags);

-- The history of every service request: one row per change, numbered by the request's revision.
CREATE TABLE service_request_events (
    request_id uuid NOT NULL REFERENCES service_requests (id),
    seq        bigint NOT NULL,
    type       text NOT NULL,
    actor      text NOT NULL,
    at         timestamptz NOT NULL,
    details    jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (request_id, seq)
);

-- +goose Down
DROP TABLE service_request_events;
DROP TABLE service_requests;
DROP TABLE record_numbers;
DROP TABLE number_sequences;
DROP TABLE definitions;
