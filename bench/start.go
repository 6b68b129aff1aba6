package bench

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/fieldflow/fieldflow/bench/baseline"
)

// StartBaseline creates the baseline's tables in the database at databaseURL and runs the
// baseline's worker on c; the function it returns stops both.
func StartBaseline(ctx context.Context, c client.Client, databaseURL string) (func(), error) {
	pool, err := pgxpool.New(ctx, databaseURL)
	if err != nil {
		return nil, err
	}
	if _, err := pool.Exec(ctx, baseline.Schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("baseline schema: %w", err)
	}
	w := sdkworker.New(c, baseline.TaskQueue, sdkworker.Options{})
	baseline.Register(w, &baseline.Activities{Pool: pool})
	if err := w.Start(); err != nil {
		pool.Close()
		return nil, err
	}
	return func() { w.Stop(); pool.Close() }, nil
}
