package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

// ReportFilter limits a report to requests created in [Since, Until), of one queue when Queue is set.
type ReportFilter struct {
	Since, Until time.Time
	Queue        string
}

// QueueSummary is one queue's line of the summary report.
type QueueSummary struct {
	Queue                 string  `json:"queue"`
	Total                 int64   `json:"total"`
	New                   int64   `json:"new"`
	InProgress            int64   `json:"inProgress"`
	Closed                int64   `json:"closed"`
	Resolved              int64   `json:"resolved"`
	SLAMet                int64   `json:"slaMet"`
	SLABreached           int64   `json:"slaBreached"`
	MeanResolutionSeconds float64 `json:"meanResolutionSeconds"`
	Invoices              int64   `json:"invoices"`
	Invoiced              float64 `json:"invoiced"`
}

// PriorityAnalysis is one queue and priority's line of the analysis report.
type PriorityAnalysis struct {
	Queue                 string  `json:"queue"`
	Priority              string  `json:"priority"`
	Total                 int64   `json:"total"`
	Closed                int64   `json:"closed"`
	Resolved              int64   `json:"resolved"`
	SLABreached           int64   `json:"slaBreached"`
	MeanResolutionSeconds float64 `json:"meanResolutionSeconds"`
}

// ReportSummary counts requests per queue.
func (s *Store) ReportSummary(ctx context.Context, f ReportFilter) ([]QueueSummary, error) {
	rows, err := s.q.ReportSummary(ctx, db.ReportSummaryParams{Since: f.Since, Until: f.Until, Queue: optional(f.Queue)})
	if err != nil {
		return nil, fmt.Errorf("store: summary report: %w", err)
	}
	out := make([]QueueSummary, len(rows))
	for i, r := range rows {
		out[i] = QueueSummary{Queue: r.Queue, Total: r.Total, New: r.OpenNew, InProgress: r.InProgress, Closed: r.Closed,
			Resolved: r.Resolved, SLAMet: r.SlaMet, SLABreached: r.SlaBreached, MeanResolutionSeconds: r.MeanResolutionSeconds,
			Invoices: r.Invoices, Invoiced: r.Invoiced}
	}
	return out, nil
}

// ReportAnalysis breaks requests down by queue and priority.
func (s *Store) ReportAnalysis(ctx context.Context, f ReportFilter) ([]PriorityAnalysis, error) {
	rows, err := s.q.ReportAnalysis(ctx, db.ReportAnalysisParams{Since: f.Since, Until: f.Until, Queue: optional(f.Queue)})
	if err != nil {
		return nil, fmt.Errorf("store: analysis report: %w", err)
	}
	out := make([]PriorityAnalysis, len(rows))
	for i, r := range rows {
		out[i] = PriorityAnalysis{Queue: r.Queue, Priority: r.Priority, Total: r.Total, Closed: r.Closed, Resolved: r.Resolved,
			SLABreached: r.SlaBreached, MeanResolutionSeconds: r.MeanResolutionSeconds}
	}
	return out, nil
}
