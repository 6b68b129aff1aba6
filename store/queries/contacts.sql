-- name: FindContactByEmail :one
SELECT * FROM contacts WHERE email = $1 AND email <> '';

-- name: FindContactByPhone :one
SELECT * FROM contacts WHERE phone = $1 AND phone <> '';

-- name: GetContact :one
SELECT * FROM contacts WHERE id = $1;

-- name: InsertContact :execrows
INSERT INTO contacts (id, name, email, phone) VALUES ($1, $2, $3, $4)
ON CONFLICT DO NOTHING;

-- name: CompleteContact :exec
-- Fills in what a contact lacks (never overwrites what it has), skipping a value another contact holds.
UPDATE contacts c SET
    name = CASE WHEN c.name = '' THEN sqlc.arg(name) ELSE c.name END,
    email = CASE WHEN c.email = '' AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.email = sqlc.arg(email) AND sqlc.arg(email) <> '')
                 THEN sqlc.arg(email) ELSE c.email END,
    phone = CASE WHEN c.phone = '' AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.phone = sqlc.arg(phone) AND sqlc.arg(phone) <> '')
                 THEN sqlc.arg(phone) ELSE c.phone END,
    updated_at = now()
WHERE c.id = sqlc.arg(id);
