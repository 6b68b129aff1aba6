package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func request(id string, n int, created time.Time) process.ServiceRequest {
	return process.ServiceRequest{
		ID: id, Number: fmt.Sprintf("SR-2026-%06d", n), Queue: "billing", Stage: "new", State: process.StateNew,
		Priority: "medium", Impact: "medium", Urgency: "medium", Subject: "Invoice", Owner: "alice",
		Categories: []string{}, Tags: []string{"vip"}, Definition: process.DefinitionRef{Key: "billing", Version: "abc"},
		CreatedBy: "alice", CreatedAt: created, UpdatedAt: created, Revision: 1,
	}
}

func event(seq int64, typ process.EventType) process.Event {
	return process.Event{Seq: seq, Type: typ, Actor: "alice", At: t0.Add(time.Duration(seq) * time.Minute), Details: map[string]any{"to": "x"}}
}

func TestMigrateIsIdempotent(t *testing.T) {
	url := storetest.URL(t)
	applied, err := store.Migrate(context.Background(), url)
	require.NoError(t, err)
	require.Empty(t, applied, "the template database is migrated already")
}

func TestSaveAndGetServiceRequest(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	id := uuid.NewString()
	sr := request(id, 1, t0)
	require.NoError(t, s.SaveServiceRequest(ctx, sr, []process.Event{event(1, process.EventCreated)}))

	got, err := s.GetServiceRequest(ctx, id)
	require.NoError(t, err)
	require.Equal(t, sr, got)

	// A newer revision replaces the record; replaying an older one changes nothing.
	newer := sr
	newer.Stage, newer.State, newer.Revision = "investigation", process.StateInProgress, 2
	require.NoError(t, s.SaveServiceRequest(ctx, newer, []process.Event{event(2, process.EventStageChanged)}))
	require.NoError(t, s.SaveServiceRequest(ctx, sr, []process.Event{event(1, process.EventCreated)}))
	got, err = s.GetServiceRequest(ctx, id)
	require.NoError(t, err)
	require.Equal(t, "investigation", got.Stage)

	events, err := s.ListServiceRequestEvents(ctx, id, 0, 0)
	require.NoError(t, err)
	require.Len(t, events, 2, "a retried write adds no event twice")
	require.Equal(t, process.EventCreated, events[0].Type)
	require.Equal(t, process.EventStageChanged, events[1].Type)
	require.Equal(t, map[string]any{"to": "x"}, events[1].Details)
	require.True(t, events[1].At.Equal(t0.Add(2*time.Minute)))

	later, err := s.ListServiceRequestEvents(ctx, id, 1, 0)
	require.NoError(t, err)
	require.Len(t, later, 1)
}

func TestGetUnknownRequest(t *testing.T) {
	s := storetest.New(t)
	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		_, err := s.GetServiceRequest(context.Background(), id)
		require.ErrorIs(t, err, store.ErrNotFound, id)
	}
}

func TestListServiceRequestsFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	var ids []string
	for i := range 7 {
		id := uuid.NewString()
		ids = append(ids, id)
		sr := request(id, i+1, t0.Add(time.Duration(i)*time.Minute))
		if i%2 == 1 {
			sr.Queue, sr.Owner, sr.Tags = "technical-support", "bob", []string{}
		}
		require.NoError(t, s.SaveServiceRequest(ctx, sr, nil))
	}

	var seen []string
	cursor := ""
	for {
		page, err := s.ListServiceRequests(ctx, store.ServiceRequestFilter{Limit: 3, Cursor: cursor})
		require.NoError(t, err)
		for _, sr := range page.Items {
			seen = append(seen, sr.ID)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	require.Equal(t, []string{ids[6], ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}, seen, "newest first, each once")

	page, err := s.ListServiceRequests(ctx, store.ServiceRequestFilter{Queue: "technical-support"})
	require.NoError(t, err)
	require.Len(t, page.Items, 3)
	page, err = s.ListServiceRequests(ctx, store.ServiceRequestFilter{Owner: "alice", Tag: "vip", State: "new", Priority: "medium", Stage: "new"})
	require.NoError(t, err)
	require.Len(t, page.Items, 4)
	page, err = s.ListServiceRequests(ctx, store.ServiceRequestFilter{Tag: "nope"})
	require.NoError(t, err)
	require.Empty(t, page.Items)

	_, err = s.ListServiceRequests(ctx, store.ServiceRequestFilter{Cursor: "garbage"})
	require.ErrorIs(t, err, store.ErrBadCursor)
}

func TestNextNumber(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	a, b := uuid.NewString(), uuid.NewString()
	n, err := s.NextNumber(ctx, a, "SR-2026-{seq}")
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	n, err = s.NextNumber(ctx, a, "SR-2026-{seq}")
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the same record keeps its number")
	n, err = s.NextNumber(ctx, b, "SR-2026-{seq}")
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	n, err = s.NextNumber(ctx, uuid.NewString(), "SR-2027-{seq}")
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "each scope counts on its own")
}

func TestNextNumberConcurrent(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	const n = 40
	got := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.NextNumber(ctx, uuid.NewString(), "scope")
			require.NoError(t, err)
			got[i] = v
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, v := range got {
		require.False(t, seen[v], "number %d handed out twice", v)
		seen[v] = true
		require.True(t, v >= 1 && v <= n)
	}
}

func TestDefinitions(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	cat, err := process.LoadDir("../definitions")
	require.NoError(t, err)
	require.NoError(t, s.PublishCatalog(ctx, cat))
	require.NoError(t, s.PublishCatalog(ctx, cat), "saving the same versions again is a no-op")
	q, _ := cat.Queue("billing")
	d, err := s.GetDefinition(ctx, q.Version)
	require.NoError(t, err)
	require.Equal(t, "billing", d.Key)
	require.Equal(t, process.KindServiceRequestQueue, d.Kind)
	require.Contains(t, d.Source, "kind: ServiceRequestQueue")
	require.Contains(t, d.SourceFile, "billing.yaml")
	_, err = s.GetDefinition(ctx, "nope")
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestIssueInvoiceOnce(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	id := uuid.NewString()
	charges := []process.Charge{{ID: "c1", Kind: process.ChargeService, Description: "Visit", Quantity: 1, UnitPrice: 80, Amount: 80}}
	first, err := s.IssueInvoice(ctx, id, charges, 80, t0)
	require.NoError(t, err)
	require.Equal(t, "INV-2026-000001", first)
	again, err := s.IssueInvoice(ctx, id, charges, 80, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, first, again, "a retry returns the invoice already issued")
	n, err := s.InvoiceCount(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	other, err := s.IssueInvoice(ctx, uuid.NewString(), charges, 80, t0)
	require.NoError(t, err)
	require.Equal(t, "INV-2026-000002", other)
}

func TestReports(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	resolved, unresolved := true, false
	closedAt := t0.Add(2 * time.Hour)
	for i, sr := range []process.ServiceRequest{
		func() process.ServiceRequest { r := request(uuid.NewString(), 1, t0); return r }(),
		func() process.ServiceRequest {
			r := request(uuid.NewString(), 2, t0)
			r.State, r.Stage, r.Resolved, r.ClosedAt, r.Priority = process.StateClosed, "closed", &resolved, &closedAt, "high"
			r.SLA = process.SLAClock{Status: process.SLAMet}
			return r
		}(),
		func() process.ServiceRequest {
			r := request(uuid.NewString(), 3, t0)
			c := t0.Add(4 * time.Hour)
			r.State, r.Stage, r.Resolved, r.ClosedAt = process.StateClosed, "closed", &unresolved, &c
			r.SLA = process.SLAClock{Status: process.SLABreached, Breached: true}
			return r
		}(),
		func() process.ServiceRequest { r := request(uuid.NewString(), 4, t0.AddDate(0, 1, 0)); return r }(),
	} {
		require.NoError(t, s.SaveServiceRequest(ctx, sr, nil), i)
		if i == 1 {
			_, err := s.IssueInvoice(ctx, sr.ID, nil, 99.5, closedAt)
			require.NoError(t, err)
		}
	}
	f := store.ReportFilter{Since: t0.Add(-time.Hour), Until: t0.Add(24 * time.Hour)}
	summary, err := s.ReportSummary(ctx, f)
	require.NoError(t, err)
	require.Equal(t, []store.QueueSummary{{Queue: "billing", Total: 3, New: 1, Closed: 2, Resolved: 1, SLAMet: 1, SLABreached: 1,
		MeanResolutionSeconds: 3 * 3600, Invoices: 1, Invoiced: 99.5}}, summary)
	analysis, err := s.ReportAnalysis(ctx, f)
	require.NoError(t, err)
	require.Equal(t, []store.PriorityAnalysis{
		{Queue: "billing", Priority: "high", Total: 1, Closed: 1, Resolved: 1, MeanResolutionSeconds: 2 * 3600},
		{Queue: "billing", Priority: "medium", Total: 2, Closed: 1, SLABreached: 1, MeanResolutionSeconds: 4 * 3600},
	}, analysis)
	none, err := s.ReportSummary(ctx, store.ReportFilter{Since: f.Since, Until: f.Until, Queue: "technical-support"})
	require.NoError(t, err)
	require.Empty(t, none)
}
