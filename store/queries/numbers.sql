-- name: GetRecordNumber :one
SELECT seq FROM record_numbers WHERE record_id = $1;

-- name: NextSequence :one
INSERT INTO number_sequences (scope, last_value) VALUES ($1, 1)
ON CONFLICT (scope) DO UPDATE SET last_value = number_sequences.last_value + 1
RETURNING last_value;

-- name: SaveRecordNumber :exec
INSERT INTO record_numbers (record_id, scope, seq) VALUES ($1, $2, $3);
