package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/devstack/postgres"
)

func TestUnavailable(t *testing.T) {
	require.False(t, Unavailable(nil))
	require.False(t, Unavailable(ErrNotFound))
	require.False(t, Unavailable(fmt.Errorf("store: x: %w", &pgconn.PgError{Code: "23505"})), "a unique violation is the caller's")
	require.True(t, Unavailable(fmt.Errorf("store: x: %w", &pgconn.PgError{Code: "57P01"})), "admin shutdown")
	require.True(t, Unavailable(fmt.Errorf("store: x: %w", &pgconn.PgError{Code: "57P03"})), "starting up")
	require.True(t, Unavailable(fmt.Errorf("store: x: %w", &pgconn.PgError{Code: "08006"})), "connection failure")
	require.False(t, Unavailable(errors.New("something else")))

	// A real refused connection: a port nothing listens on.
	port, err := postgres.FreePort()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pgx.Connect(ctx, fmt.Sprintf("postgres://nobody@127.0.0.1:%d/none?sslmode=disable&connect_timeout=5", port))
	require.Error(t, err)
	require.True(t, Unavailable(fmt.Errorf("store: get request: %w", err)), "%v", err)
}
