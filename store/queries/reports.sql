-- name: ReportSummary :many
-- Per queue: requests by state, SLA met and breached, mean resolution time, what was invoiced.
SELECT sr.queue,
       count(*)::bigint AS total,
       count(*) FILTER (WHERE sr.state = 'new')::bigint AS open_new,
       count(*) FILTER (WHERE sr.state = 'in_progress')::bigint AS in_progress,
       count(*) FILTER (WHERE sr.state = 'closed')::bigint AS closed,
       count(*) FILTER (WHERE sr.state = 'closed' AND (sr.doc->>'resolved')::boolean)::bigint AS resolved,
       count(*) FILTER (WHERE sr.doc->'sla'->>'status' = 'met')::bigint AS sla_met,
       count(*) FILTER (WHERE COALESCE((sr.doc->'sla'->>'breached')::boolean, false))::bigint AS sla_breached,
       COALESCE(avg(EXTRACT(EPOCH FROM ((sr.doc->>'closedAt')::timestamptz - sr.created_at)))
                FILTER (WHERE sr.state = 'closed'), 0)::float8 AS mean_resolution_seconds,
       count(i.request_id)::bigint AS invoices,
       COALESCE(sum(i.total), 0)::float8 AS invoiced
FROM service_requests sr
LEFT JOIN invoices i ON i.request_id = sr.id
WHERE sr.created_at >= sqlc.arg(since) AND sr.created_at < sqlc.arg(until)
  AND (sqlc.narg(queue)::text IS NULL OR sr.queue = sqlc.narg(queue))
GROUP BY sr.queue
ORDER BY sr.queue;

-- name: ReportAnalysis :many
-- Per queue and priority: volume, resolution, breaches, mean resolution time.
SELECT sr.queue, sr.priority,
       count(*)::bigint AS total,
       count(*) FILTER (WHERE sr.state = 'closed')::bigint AS closed,
       count(*) FILTER (WHERE sr.state = 'closed' AND (sr.doc->>'resolved')::boolean)::bigint AS resolved,
       count(*) FILTER (WHERE COALESCE((sr.doc->'sla'->>'breached')::boolean, false))::bigint AS sla_breached,
       COALESCE(avg(EXTRACT(EPOCH FROM ((sr.doc->>'closedAt')::timestamptz - sr.created_at)))
                FILTER (WHERE sr.state = 'closed'), 0)::float8 AS mean_resolution_seconds
FROM service_requests sr
WHERE sr.created_at >= sqlc.arg(since) AND sr.created_at < sqlc.arg(until)
  AND (sqlc.narg(queue)::text IS NULL OR sr.queue = sqlc.narg(queue))
GROUP BY sr.queue, sr.priority
ORDER BY sr.queue, sr.priority;
