-- +goose Up

-- Service groups: the teams work orders are dispatched to. last_pick is the member the round-robin
-- strategy gave the last order to; the next pick starts after it.
CREATE TABLE groups (
    key        text PRIMARY KEY,
    title      text NOT NULL,
    last_pick  text NOT NULL DEFAULT '',
    created_by text NOT NULL DEFAULT '',
    -- The Idempotency-Key of the POST that created the group, so a retry gets the same answer.
    create_key text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The engineers of a group; inactive members stay listed but get no automatic assignments.
CREATE TABLE group_members (
    group_key  text NOT NULL REFERENCES groups (key) ON DELETE CASCADE,
    username   text NOT NULL,
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_key, username)
);

-- Every automatic pick, keyed by the caller's pick key: a retried pick returns the engineer
-- already picked. No foreign key: a pick stays answerable after its group is deleted.
CREATE TABLE assignment_picks (
    key       text PRIMARY KEY,
    group_key text NOT NULL,
    engineer  text NOT NULL,
    strategy  text NOT NULL,
    picked_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX assignment_picks_engineer ON assignment_picks (engineer, picked_at DESC);

-- +goose Down
DROP TABLE assignment_picks;
DROP TABLE group_members;
DROP TABLE groups;
