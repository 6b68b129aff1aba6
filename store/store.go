// Package store is Fieldflow's PostgreSQL storage: the embedded migrations, the projections the
// workflows write, and the reads the API serves. SQL lives in queries/*.sql and migrations/*.sql;
// internal/db is generated from them by sqlc (make generate).
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

//go:embed migrations/*.sql
var migrations embed.FS

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("store: not found")

// Store is a pool of connections to Fieldflow's database.
type Store struct {
	pool *pgxpool.Pool
	q    *db.Queries
}

// defaultMaxConns is the connection pool's size unless the URL sets pool_max_conns.
const defaultMaxConns = 16

// Open connects to the database at url. It does not run migrations; call Migrate.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse database URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default (4 on a 2-core machine) queues the API's reads behind the worker's
		// projections under concurrent agents; the URL's pool_max_conns still wins.
		cfg.MaxConns = max(cfg.MaxConns, defaultMaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return &Store{pool: pool, q: db.New(pool)}, nil
}

// Close releases every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Migrate brings the schema up to date with the migrations embedded in the binary. Several
// processes may call it at once: goose takes a Postgres advisory lock.
func Migrate(ctx context.Context, url string) (applied []string, err error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: parse database URL: %w", err)
	}
	sqlDB := stdlib.OpenDB(*cfg)
	defer sqlDB.Close()
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, mustSub(migrations, "migrations"),
		goose.WithSessionLocker(mustLocker()))
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *Store) inTx(ctx context.Context, fn func(q *db.Queries) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return fn(s.q.WithTx(tx))
	})
}

// inRecordTx is inTx for writing a record, which has two writers since runs hand their updates'
// changes to the callers: a new record's starter and its run may insert it at the same moment. The
// upsert settles a clash on the id, but the loser of the race can trip over another unique index
// (the number) before it sees the winner's row; run again, it finds the row and updates it.
func (s *Store) inRecordTx(ctx context.Context, fn func(q *db.Queries) error) error {
	err := s.inTx(ctx, fn)
	for range 2 {
		if !isUniqueViolation(err) {
			return err
		}
		err = s.inTx(ctx, fn)
	}
	return err
}

// interpret translates storage errors once, at the boundary.
func interpret(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// isUniqueViolation reports whether err is a unique-constraint violation.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

func mustSub(fsys embed.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

func mustLocker() lock.SessionLocker {
	l, err := lock.NewPostgresSessionLocker()
	if err != nil {
		panic(err)
	}
	return l
}
