-- name: ListRatings :many
-- The ratings that pass the filters, newest first. Ratings are read from the work orders'
-- projection: every element of doc->'ratings' is one rating record (a customer's rating, or a
-- follow-up survey with kind follow_up), identified by its order and its position in that array,
-- which only ever grows. A NULL kind means every kind, the empty kind customers' ratings only.
SELECT wo.id AS order_id, wo.number, wo.record_type, wo.engineer, wo.group_name,
       r.idx::bigint AS idx,
       (r.rec->>'at')::timestamptz AS at,
       r.rec::jsonb AS rec
FROM work_orders wo
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(wo.doc->'ratings') = 'array' THEN wo.doc->'ratings' ELSE '[]'::jsonb END
) WITH ORDINALITY AS r(rec, idx)
WHERE (sqlc.narg(record_type)::text IS NULL OR wo.record_type = sqlc.narg(record_type))
  AND (sqlc.narg(engineer)::text IS NULL OR wo.engineer = sqlc.narg(engineer))
  AND (sqlc.narg(group_name)::text IS NULL OR wo.group_name = sqlc.narg(group_name))
  AND (sqlc.narg(kind)::text IS NULL OR COALESCE(r.rec->>'kind', '') = sqlc.narg(kind))
  AND (sqlc.narg(template)::text IS NULL OR COALESCE(r.rec->>'template', '') = sqlc.narg(template))
  AND (sqlc.narg(from_at)::timestamptz IS NULL OR (r.rec->>'at')::timestamptz >= sqlc.narg(from_at))
  AND (sqlc.narg(to_at)::timestamptz IS NULL OR (r.rec->>'at')::timestamptz < sqlc.narg(to_at))
  AND (sqlc.narg(after_at)::timestamptz IS NULL
       OR ((r.rec->>'at')::timestamptz, wo.id, r.idx)
          < (sqlc.narg(after_at)::timestamptz, sqlc.narg(after_order_id)::uuid, sqlc.narg(after_idx)::bigint))
ORDER BY (r.rec->>'at')::timestamptz DESC, wo.id DESC, r.idx DESC
LIMIT sqlc.arg(max_rows);

-- name: RatingTotals :many
-- Counts and score sums of the ratings that pass the filters, per engineer, record type and scale
-- (an empty scale for records without one, like follow-up surveys); the store averages them.
SELECT wo.engineer, wo.record_type,
       COALESCE(r.rec->>'scale', '')::text AS scale,
       count(*)::bigint AS ratings,
       COALESCE(sum((r.rec->>'score')::float8), 0)::float8 AS score_sum
FROM work_orders wo
CROSS JOIN LATERAL jsonb_array_elements(
    CASE WHEN jsonb_typeof(wo.doc->'ratings') = 'array' THEN wo.doc->'ratings' ELSE '[]'::jsonb END
) AS r(rec)
WHERE (sqlc.narg(record_type)::text IS NULL OR wo.record_type = sqlc.narg(record_type))
  AND (sqlc.narg(engineer)::text IS NULL OR wo.engineer = sqlc.narg(engineer))
  AND (sqlc.narg(group_name)::text IS NULL OR wo.group_name = sqlc.narg(group_name))
  AND (sqlc.narg(kind)::text IS NULL OR COALESCE(r.rec->>'kind', '') = sqlc.narg(kind))
  AND (sqlc.narg(template)::text IS NULL OR COALESCE(r.rec->>'template', '') = sqlc.narg(template))
  AND (sqlc.narg(from_at)::timestamptz IS NULL OR (r.rec->>'at')::timestamptz >= sqlc.narg(from_at))
  AND (sqlc.narg(to_at)::timestamptz IS NULL OR (r.rec->>'at')::timestamptz < sqlc.narg(to_at))
GROUP BY wo.engineer, wo.record_type, 3
ORDER BY wo.engineer, wo.record_type, 3;
