package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

// IdempotentRequest is a POST carrying an Idempotency-Key: who sent it, the key, and the hash of
// the request (method, path and body).
type IdempotentRequest struct {
	Principal, Key string
	Method, Path   string
	Hash           []byte
}

// IdempotencyRecord is what is kept for a key: the first request's hash and, once it completed,
// its answer.
type IdempotencyRecord struct {
	Principal, Key string
	Method, Path   string
	Hash           []byte
	// Completed tells whether the answer below is there; false while the first request runs.
	Completed   bool
	Status      int
	ContentType string
	Location    string
	Body        []byte
	CreatedAt   time.Time
}

// BeginIdempotent claims the key for the request. It returns the new pending record and true when
// the caller is the first (it must then CompleteIdempotent or ReleaseIdempotent), or the existing
// record and false otherwise: a completed answer to replay, or a request still running — the caller
// compares the hashes. A record created more than ttl ago is deleted and the key claimed anew, and
// so is a record still pending and not touched (TouchIdempotent) for stale: the process answering
// it died.
func (s *Store) BeginIdempotent(ctx context.Context, r IdempotentRequest, ttl, stale time.Duration) (IdempotencyRecord, bool, error) {
	now := time.Now()
	for attempt := 0; attempt < 3; attempt++ {
		if _, err := s.q.DeleteIdempotencyKeyIfStale(ctx, db.DeleteIdempotencyKeyIfStaleParams{
			Principal: r.Principal, Key: r.Key, ExpiredBefore: now.Add(-ttl), StaleBefore: now.Add(-stale),
		}); err != nil {
			return IdempotencyRecord{}, false, fmt.Errorf("store: expire idempotency key: %w", err)
		}
		row, err := s.q.InsertIdempotencyKey(ctx, db.InsertIdempotencyKeyParams{
			Principal: r.Principal, Key: r.Key, Method: r.Method, Path: r.Path, RequestHash: r.Hash,
		})
		if err == nil {
			return idempotencyOf(row), true, nil
		}
		if err = interpret(err); !errors.Is(err, ErrNotFound) {
			return IdempotencyRecord{}, false, fmt.Errorf("store: begin idempotency key: %w", err)
		}
		row, err = s.q.GetIdempotencyKey(ctx, db.GetIdempotencyKeyParams{Principal: r.Principal, Key: r.Key})
		if err == nil {
			return idempotencyOf(row), false, nil
		}
		if err = interpret(err); !errors.Is(err, ErrNotFound) {
			return IdempotencyRecord{}, false, fmt.Errorf("store: get idempotency key: %w", err)
		}
		// Deleted between the insert and the read (released by the first request): try again.
	}
	return IdempotencyRecord{}, false, fmt.Errorf("store: begin idempotency key: the key keeps changing")
}

// CompleteIdempotent stores the answer of the request that claimed the key.
func (s *Store) CompleteIdempotent(ctx context.Context, r IdempotentRequest, status int, contentType, location string, body []byte) error {
	st := int32(status)
	if body == nil {
		body = []byte{}
	}
	_, err := s.q.CompleteIdempotencyKey(ctx, db.CompleteIdempotencyKeyParams{
		Principal: r.Principal, Key: r.Key, RequestHash: r.Hash,
		Status: &st, ContentType: contentType, Location: location, Body: body,
	})
	if err != nil {
		return fmt.Errorf("store: complete idempotency key: %w", err)
	}
	return nil
}

// TouchIdempotent marks the pending key of a request that still runs as alive: BeginIdempotent
// takes over a pending key only when it has not been touched for the stale window.
func (s *Store) TouchIdempotent(ctx context.Context, r IdempotentRequest) error {
	if _, err := s.q.TouchIdempotencyKey(ctx, db.TouchIdempotencyKeyParams{Principal: r.Principal, Key: r.Key, RequestHash: r.Hash}); err != nil {
		return fmt.Errorf("store: touch idempotency key: %w", err)
	}
	return nil
}

// ReleaseIdempotent gives up the claim on a key whose request had no final outcome (a server
// error, an action refused for now), so a retry with it runs again.
func (s *Store) ReleaseIdempotent(ctx context.Context, r IdempotentRequest) error {
	if _, err := s.q.ReleaseIdempotencyKey(ctx, db.ReleaseIdempotencyKeyParams{Principal: r.Principal, Key: r.Key, RequestHash: r.Hash}); err != nil {
		return fmt.Errorf("store: release idempotency key: %w", err)
	}
	return nil
}

// DeleteIdempotencyKeysBefore removes every key created before t and says how many.
func (s *Store) DeleteIdempotencyKeysBefore(ctx context.Context, t time.Time) (int64, error) {
	n, err := s.q.DeleteIdempotencyKeysBefore(ctx, t)
	if err != nil {
		return 0, fmt.Errorf("store: delete idempotency keys: %w", err)
	}
	return n, nil
}

func idempotencyOf(row db.IdempotencyKey) IdempotencyRecord {
	r := IdempotencyRecord{
		Principal: row.Principal, Key: row.Key, Method: row.Method, Path: row.Path, Hash: row.RequestHash,
		Completed: row.CompletedAt != nil, ContentType: row.ContentType, Location: row.Location,
		Body: row.Body, CreatedAt: row.CreatedAt,
	}
	if row.Status != nil {
		r.Status = int(*row.Status)
	}
	return r
}
