-- name: UpsertWorkOrder :execrows
-- Writes the projection of a work order unless a newer revision is already there.
INSERT INTO work_orders (id, number, record_type, stage, state, node, priority, engineer, group_name, parent, channel, source, revision, created_at, updated_at, doc)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
ON CONFLICT (id) DO UPDATE SET
    stage = excluded.stage, state = excluded.state, node = excluded.node, priority = excluded.priority,
    engineer = excluded.engineer, group_name = excluded.group_name,
    revision = excluded.revision, updated_at = excluded.updated_at, doc = excluded.doc
WHERE work_orders.revision < excluded.revision;

-- name: InsertWorkOrderEvent :exec
INSERT INTO work_order_events (order_id, seq, type, actor, at, details)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (order_id, seq) DO NOTHING;

-- name: GetWorkOrder :one
SELECT doc FROM work_orders WHERE id = $1;

-- name: ListWorkOrderEvents :many
SELECT seq, type, actor, at, details FROM work_order_events
WHERE order_id = $1 AND seq > sqlc.arg(after_seq)
ORDER BY seq
LIMIT sqlc.arg(max_rows);

-- name: ListWorkOrders :many
SELECT id, created_at, doc FROM work_orders
WHERE (sqlc.narg(record_type)::text IS NULL OR record_type = sqlc.narg(record_type))
  AND (sqlc.narg(state)::text IS NULL OR state = sqlc.narg(state))
  AND (sqlc.narg(stage)::text IS NULL OR stage = sqlc.narg(stage))
  AND (sqlc.narg(engineer)::text IS NULL OR engineer = sqlc.narg(engineer))
  AND (sqlc.narg(group_name)::text IS NULL OR group_name = sqlc.narg(group_name))
  AND (sqlc.narg(channel)::text IS NULL OR channel = sqlc.narg(channel))
  AND (sqlc.narg(source)::text IS NULL OR source = sqlc.narg(source))
  AND (sqlc.narg(priority)::text IS NULL OR priority = sqlc.narg(priority))
  AND (sqlc.narg(parent)::text IS NULL OR parent = sqlc.narg(parent))
  -- The viewer's own orders (the relations of package policy): engineer, offered engineer, group,
  -- follow-up agent or follow-up group.
  AND (sqlc.narg(viewer)::text IS NULL OR engineer = sqlc.narg(viewer)
       OR group_name = ANY(sqlc.arg(viewer_groups)::text[])
       OR doc->'offer'->>'engineer' = sqlc.narg(viewer)
       OR doc->'followUp'->>'agent' = sqlc.narg(viewer)
       OR doc->'followUp'->>'group' = ANY(sqlc.arg(viewer_groups)::text[]))
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg(after_created_at)::timestamptz, sqlc.narg(after_id)::uuid))
ORDER BY created_at DESC, id DESC
LIMIT sqlc.arg(max_rows);

-- name: ClaimWorkOrderRef :one
-- Claims a source's reference for an order; the order already holding it when taken.
WITH claimed AS (
    INSERT INTO work_order_refs (source, external_ref, order_id) VALUES ($1, $2, $3)
    ON CONFLICT (source, external_ref) DO NOTHING
    RETURNING order_id
)
SELECT order_id FROM claimed
UNION ALL
SELECT order_id FROM work_order_refs WHERE source = $1 AND external_ref = $2
LIMIT 1;
