-- name: InsertGroup :one
INSERT INTO groups (key, title, created_by, create_key) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO NOTHING
RETURNING *;

-- name: GetGroup :one
SELECT * FROM groups WHERE key = $1;

-- name: ListGroups :many
SELECT * FROM groups ORDER BY key;

-- name: UpdateGroupTitle :one
UPDATE groups SET title = $2, updated_at = now() WHERE key = $1
RETURNING *;

-- name: DeleteGroup :execrows
DELETE FROM groups WHERE key = $1;

-- name: ListGroupMembers :many
SELECT group_key, username, active, created_at, updated_at FROM group_members
WHERE group_key = ANY(sqlc.arg(group_keys)::text[])
ORDER BY group_key, username;

-- name: PutGroupMember :one
-- Adds a member (active unless told otherwise) or changes an existing one's active flag; inserted
-- tells which happened.
INSERT INTO group_members (group_key, username, active)
VALUES ($1, $2, coalesce(sqlc.narg(active)::boolean, true))
ON CONFLICT (group_key, username) DO UPDATE SET
    active = coalesce(sqlc.narg(active)::boolean, group_members.active), updated_at = now()
RETURNING group_key, username, active, created_at, updated_at, (xmax = 0)::boolean AS inserted;

-- name: DeleteGroupMember :execrows
DELETE FROM group_members WHERE group_key = $1 AND username = $2;

-- name: GetAssignmentPick :one
SELECT engineer FROM assignment_picks WHERE key = $1;

-- name: LockGroupForPick :one
-- Serializes the picks of one group; waits for a concurrent pick and then sees its last pick.
SELECT last_pick FROM groups WHERE key = $1 FOR UPDATE;

-- name: NextRoundRobinMember :one
-- The first active member after the last pick in username order, wrapping to the first.
SELECT username FROM group_members
WHERE group_key = sqlc.arg(group_key) AND active
ORDER BY username <= sqlc.arg(last_pick)::text, username
LIMIT 1;

-- name: LeastLoadedMember :one
-- The active member with the fewest open work orders; ties go to the one picked least recently
-- (never picked first), then by username.
SELECT m.username FROM group_members m
LEFT JOIN LATERAL (
    SELECT count(*) AS open FROM work_orders w WHERE w.engineer = m.username AND w.state <> 'closed'
) o ON true
LEFT JOIN LATERAL (
    SELECT max(p.picked_at) AS last_picked FROM assignment_picks p WHERE p.engineer = m.username
) p ON true
WHERE m.group_key = sqlc.arg(group_key) AND m.active
ORDER BY o.open, p.last_picked NULLS FIRST, m.username
LIMIT 1;

-- name: InsertAssignmentPick :execrows
INSERT INTO assignment_picks (key, group_key, engineer, strategy) VALUES ($1, $2, $3, $4)
ON CONFLICT (key) DO NOTHING;

-- name: SetGroupLastPick :exec
UPDATE groups SET last_pick = $2 WHERE key = $1;
