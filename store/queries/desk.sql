-- name: GetInvoice :one
SELECT * FROM invoices WHERE request_id = $1;

-- name: InsertInvoice :exec
INSERT INTO invoices (request_id, number, total, lines, issued_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (request_id) DO NOTHING;

-- name: DeleteTodoItems :exec
DELETE FROM todo_items WHERE record_id = $1;

-- name: InsertTodoItem :exec
INSERT INTO todo_items (id, record_id, number, kind, title, users, groups, roles, contact, due, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11);

-- name: ListTodoItems :many
SELECT * FROM todo_items
WHERE users && sqlc.arg(users)::text[] OR groups && sqlc.arg(groups)::text[] OR roles && sqlc.arg(roles)::text[]
ORDER BY due NULLS LAST, created_at
LIMIT 500;

-- name: GetTodoItem :one
SELECT * FROM todo_items WHERE id = $1;

-- name: ListPoolItems :many
SELECT * FROM todo_items
WHERE kind = ANY(sqlc.arg(kinds)::text[])
  AND (groups && sqlc.arg(groups)::text[] OR roles && sqlc.arg(roles)::text[])
ORDER BY created_at
LIMIT 500;
