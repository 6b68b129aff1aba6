-- name: UpsertServiceRequest :execrows
-- Writes the projection of a request unless a newer revision is already there.
INSERT INTO service_requests (id, number, queue, stage, state, priority, owner, team, tags, revision, created_at, updated_at, doc, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
ON CONFLICT (id) DO UPDATE SET
    stage = excluded.stage, state = excluded.state, priority = excluded.priority,
    owner = excluded.owner, team = excluded.team, tags = excluded.tags,
    revision = excluded.revision, updated_at = excluded.updated_at, doc = excluded.doc
WHERE service_requests.revision < excluded.revision;

-- name: InsertServiceRequestEvent :exec
INSERT INTO service_request_events (request_id, seq, type, actor, at, details)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (request_id, seq) DO NOTHING;

-- name: GetServiceRequest :one
SELECT doc FROM service_requests WHERE id = $1;

-- name: GetServiceRequestByNumber :one
SELECT doc FROM service_requests WHERE number = $1;

-- name: ListServiceRequests :many
SELECT id, created_at, doc FROM service_requests
WHERE (sqlc.narg(queue)::text IS NULL OR queue = sqlc.narg(queue))
  AND (sqlc.narg(state)::text IS NULL OR state = sqlc.narg(state))
  AND (sqlc.narg(stage)::text IS NULL OR stage = sqlc.narg(stage))
  AND (sqlc.narg(owner)::text IS NULL OR owner = sqlc.narg(owner))
  AND (sqlc.narg(priority)::text IS NULL OR priority = sqlc.narg(priority))
  AND (sqlc.narg(tag)::text IS NULL OR tags @> ARRAY[sqlc.narg(tag)::text])
  -- The viewer's own requests (the relations of package policy): owner, creator or team.
  AND (sqlc.narg(viewer)::text IS NULL OR owner = sqlc.narg(viewer) OR created_by = sqlc.narg(viewer)
       OR team = ANY(sqlc.arg(viewer_groups)::text[]))
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(after_created_at)::timestamptz, sqlc.narg(after_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(max_rows);

-- name: ListServiceRequestEvents :many
SELECT seq, type, actor, at, details FROM service_request_events
WHERE request_id = $1 AND seq > sqlc.arg(after_seq)
ORDER BY seq
LIMIT sqlc.arg(max_rows);
