package store_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

// TestPoolListsUnassignedRequests: an unassigned request waits in the pool of its handling roles
// and groups beside pooled work orders, told apart by kind; once owned, routed to a team or
// closed, it leaves the pool.
func TestPoolListsUnassignedRequests(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	sr := request(uuid.NewString(), 1, t0)
	sr.Owner, sr.Team = "", ""
	sr.Handling = &process.Handling{Roles: []string{"agent"}, Groups: []string{"billing-desk"}}
	require.NoError(t, st.SaveServiceRequest(ctx, sr, nil))
	wo := workOrder(2, func(wo *process.WorkOrder) { wo.Group = "billing-desk" })
	require.NoError(t, st.SaveWorkOrder(ctx, wo, nil))

	byRole, err := st.ListPool(ctx, nil, []string{"agent"})
	require.NoError(t, err)
	require.Len(t, byRole, 1, "a role sees the requests it handles, not the groups' work orders")
	require.Equal(t, sr.ID+"."+store.TodoClaim, byRole[0].ID)
	require.Equal(t, store.TodoClaim, byRole[0].Kind)
	require.Equal(t, sr.ID, byRole[0].RecordID)

	byGroup, err := st.ListPool(ctx, []string{"billing-desk"}, []string{"engineer"})
	require.NoError(t, err)
	require.Equal(t, []string{store.TodoClaim, store.TodoPool}, []string{byGroup[0].Kind, byGroup[1].Kind}, "oldest first")

	nobody, err := st.ListPool(ctx, []string{"hvac"}, []string{"engineer", "dispatcher"})
	require.NoError(t, err)
	require.Empty(t, nobody, "the dispatchers' own work-order items are not in the pool")

	// A request without handling (made before queues had intake settings) is in no pool.
	old := request(uuid.NewString(), 3, t0)
	old.Owner, old.Team = "", ""
	require.NoError(t, st.SaveServiceRequest(ctx, old, nil))

	claimed := sr
	claimed.Owner, claimed.Revision = "bob", sr.Revision+1
	require.NoError(t, st.SaveServiceRequest(ctx, claimed, nil))
	byRole, err = st.ListPool(ctx, nil, []string{"agent"})
	require.NoError(t, err)
	require.Empty(t, byRole)
	mine, err := st.ListTodo(ctx, "bob", nil, []string{"agent"})
	require.NoError(t, err)
	require.Empty(t, mine)
}
