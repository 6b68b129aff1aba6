-- name: SaveDefinition :exec
INSERT INTO definitions (version, key, kind, source_file, source, compiled)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (version) DO NOTHING;

-- name: GetDefinition :one
SELECT * FROM definitions WHERE version = $1;
