package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

func TestIdempotencyKeys(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	req := store.IdempotentRequest{Principal: "alice", Key: "k1", Method: "POST", Path: "/v1/service-requests", Hash: []byte("h1")}

	// The first claim wins; a second sees the pending record.
	rec, first, err := s.BeginIdempotent(ctx, req, time.Hour, time.Hour)
	require.NoError(t, err)
	require.True(t, first)
	require.False(t, rec.Completed)
	rec, first, err = s.BeginIdempotent(ctx, req, time.Hour, time.Hour)
	require.NoError(t, err)
	require.False(t, first)
	require.False(t, rec.Completed)
	require.Equal(t, []byte("h1"), rec.Hash)

	// Completed: the answer comes back, whatever the hash of the one asking (the caller compares).
	require.NoError(t, s.CompleteIdempotent(ctx, req, 201, "application/json", "/v1/x/1", []byte(`{"id":"1"}`)))
	other := req
	other.Hash = []byte("h2")
	rec, first, err = s.BeginIdempotent(ctx, other, time.Hour, time.Hour)
	require.NoError(t, err)
	require.False(t, first)
	require.True(t, rec.Completed)
	require.Equal(t, 201, rec.Status)
	require.Equal(t, "application/json", rec.ContentType)
	require.Equal(t, "/v1/x/1", rec.Location)
	require.JSONEq(t, `{"id":"1"}`, string(rec.Body))
	require.Equal(t, []byte("h1"), rec.Hash)

	// Completing again changes nothing; releasing a completed key keeps it.
	require.NoError(t, s.CompleteIdempotent(ctx, req, 500, "text/plain", "", []byte("x")))
	require.NoError(t, s.ReleaseIdempotent(ctx, req))
	rec, _, err = s.BeginIdempotent(ctx, req, time.Hour, time.Hour)
	require.NoError(t, err)
	require.Equal(t, 201, rec.Status)

	// Keys are per caller.
	bob := req
	bob.Principal = "bob"
	_, first, err = s.BeginIdempotent(ctx, bob, time.Hour, time.Hour)
	require.NoError(t, err)
	require.True(t, first)

	// A released key is claimed anew.
	require.NoError(t, s.ReleaseIdempotent(ctx, bob))
	_, first, err = s.BeginIdempotent(ctx, bob, time.Hour, time.Hour)
	require.NoError(t, err)
	require.True(t, first)

	// A pending key past the stale window is taken over; an expired completed one is new again.
	time.Sleep(20 * time.Millisecond)
	rec, first, err = s.BeginIdempotent(ctx, bob, time.Hour, 10*time.Millisecond)
	require.NoError(t, err)
	require.True(t, first, "a stale pending key is taken over")
	rec, first, err = s.BeginIdempotent(ctx, other, 10*time.Millisecond, time.Hour)
	require.NoError(t, err)
	require.True(t, first, "an expired key is new")
	require.Equal(t, []byte("h2"), rec.Hash)

	// The cleanup removes what is older than the cut.
	n, err := s.DeleteIdempotencyKeysBefore(ctx, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
}

// TestIdempotencyKeyTouched: a pending key touched by its running request is not taken over; one
// left untouched (its process died) is, after the stale window.
func TestIdempotencyKeyTouched(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	req := store.IdempotentRequest{Principal: "alice", Key: "k-touch", Method: "POST", Path: "/v1/service-requests", Hash: []byte("h1")}
	const stale = 300 * time.Millisecond
	_, first, err := s.BeginIdempotent(ctx, req, time.Hour, stale)
	require.NoError(t, err)
	require.True(t, first)
	for range 4 { // 400 ms in all, longer than the stale window, touched every 100 ms
		time.Sleep(100 * time.Millisecond)
		require.NoError(t, s.TouchIdempotent(ctx, req))
	}
	_, first, err = s.BeginIdempotent(ctx, req, time.Hour, stale)
	require.NoError(t, err)
	require.False(t, first, "a key its request keeps touching stays its own")
	time.Sleep(stale + 50*time.Millisecond)
	_, first, err = s.BeginIdempotent(ctx, req, time.Hour, stale)
	require.NoError(t, err)
	require.True(t, first, "an untouched pending key is taken over")

	// Touching a completed key changes nothing.
	require.NoError(t, s.CompleteIdempotent(ctx, req, 201, "application/json", "", []byte(`{}`)))
	require.NoError(t, s.TouchIdempotent(ctx, req))
	rec, first, err := s.BeginIdempotent(ctx, req, time.Hour, stale)
	require.NoError(t, err)
	require.False(t, first)
	require.True(t, rec.Completed)
}
