-- +goose Up

-- API tokens for other systems: created and revoked by an admin, kept as a SHA-256 hash only (the
-- token is shown once), scoped to roles and groups like a staff token.
CREATE TABLE api_tokens (
    id           uuid PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    hash         bytea NOT NULL UNIQUE,
    roles        text[] NOT NULL,
    groups       text[] NOT NULL DEFAULT '{}',
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- +goose Down
DROP TABLE api_tokens;
