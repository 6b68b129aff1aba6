-- name: SaveDefinition :exec
INSERT INTO definitions (version, key, kind, source_file, source, compiled)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (version) DO NOTHING;

-- name: GetDefinition :one
SELECT * FROM definitions WHERE version = $1;

-- name: SetDefinitionHead :exec
INSERT INTO definition_heads (key, kind, version) VALUES ($1, $2, $3)
ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, version = excluded.version, updated_at = now()
WHERE definition_heads.version <> excluded.version;

-- name: GetDefinitionHead :one
SELECT d.* FROM definition_heads h JOIN definitions d ON d.version = h.version WHERE h.key = $1;

-- name: ListDefinitionVersions :many
SELECT version, key, kind, source_file, created_at FROM definitions WHERE key = $1 ORDER BY created_at DESC;
