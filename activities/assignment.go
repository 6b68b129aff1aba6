package activities

import (
	"context"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/store"
)

// AssignmentStore picks engineers (implemented by *store.Store).
type AssignmentStore interface {
	PickEngineer(ctx context.Context, key, group, strategy string) (string, error)
}

// Assignments picks engineers for assignment nodes.
type Assignments struct{ Store AssignmentStore }

// PickEngineerInput asks for an engineer of a group.
type PickEngineerInput struct {
	Key      string `json:"key"` // unique per pick: the same key always returns the same engineer (retries)
	Group    string `json:"group"`
	Strategy string `json:"strategy"` // round_robin or least_loaded
}

// PickEngineerResult names the engineer picked.
type PickEngineerResult struct {
	Engineer string `json:"engineer"` // "" when the group has no active member (the order then waits in the group's pool)
}

// PickEngineer picks an active member of the group: round_robin takes turns in username order,
// least_loaded takes the member with the fewest open work orders. It is idempotent: the pick is
// recorded under the key, so a retry after a timeout or a crash returns the same engineer. An
// unknown strategy or a missing key fails without retries.
func (a *Assignments) PickEngineer(ctx context.Context, in PickEngineerInput) (PickEngineerResult, error) {
	switch {
	case in.Strategy != store.StrategyRoundRobin && in.Strategy != store.StrategyLeastLoaded:
		return PickEngineerResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("assignment strategy %q: use %s or %s", in.Strategy, store.StrategyRoundRobin, store.StrategyLeastLoaded), "UnknownStrategy", nil)
	case in.Key == "":
		return PickEngineerResult{}, temporal.NewNonRetryableApplicationError("a pick needs a key", "InvalidInput", nil)
	}
	engineer, err := a.Store.PickEngineer(ctx, in.Key, in.Group, in.Strategy)
	if err != nil {
		return PickEngineerResult{}, err
	}
	return PickEngineerResult{Engineer: engineer}, nil
}
