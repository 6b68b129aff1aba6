-- name: UpsertWorkOrder :execrows
-- Writes the projection of a work order unless a newer revision is already there.
INSERT INTO work_orders (id, number, record_type, stage, state, node, priority, engineer, group_name, parent, revision, created_at, updated_at, doc)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
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
