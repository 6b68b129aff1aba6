-- +goose Up
-- Who may see a request in lists: its owner, its creator and the members of its team.
ALTER TABLE service_requests ADD COLUMN created_by text NOT NULL DEFAULT '';
UPDATE service_requests SET created_by = doc->>'createdBy';
CREATE INDEX service_requests_team ON service_requests (team, created_at DESC);

-- +goose Down
DROP INDEX service_requests_team;
ALTER TABLE service_requests DROP COLUMN created_by;
