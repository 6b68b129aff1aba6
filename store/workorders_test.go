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

func workOrder(n int, mods ...func(*process.WorkOrder)) process.WorkOrder {
	wo := process.WorkOrder{
		ID: uuid.NewString(), Number: fmt.Sprintf("WO-2026-%06d", n), RecordType: "repair", Stage: "dispatch",
		State: process.StateInProgress, Node: "dispatch", NodeType: process.NodeAssignment, Priority: "medium",
		Subject: "Boiler", Channel: "agent", Steps: []process.StepRecord{}, Ratings: []process.RatingRecord{},
		Approvals: []process.ApprovalState{}, Attachments: []process.Attachment{},
		CreatedAt: t0.Add(time.Duration(n) * time.Minute), UpdatedAt: t0.Add(time.Duration(n) * time.Minute), Revision: 1,
	}
	for _, m := range mods {
		m(&wo)
	}
	return wo
}

func TestWorkOrderToDoFollowsTheOrder(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	wo := workOrder(1, func(wo *process.WorkOrder) { wo.Group = "hvac" })
	require.NoError(t, st.SaveWorkOrder(ctx, wo, nil))

	// Waiting for dispatch: the dispatchers' item and the group's pool.
	dispatch, err := st.ListTodo(ctx, "dan", nil, []string{"dispatcher"})
	require.NoError(t, err)
	require.Len(t, dispatch, 1)
	require.Equal(t, store.TodoDispatch, dispatch[0].Kind)
	pool, err := st.ListPool(ctx, []string{"hvac"}, nil)
	require.NoError(t, err)
	require.Len(t, pool, 1)
	require.Equal(t, wo.ID+"."+store.TodoPool, pool[0].ID)
	other, err := st.ListPool(ctx, []string{"plumbing"}, nil)
	require.NoError(t, err)
	require.Empty(t, other)

	// Offered to eve: only her offer is left; an older revision changes nothing.
	offered := wo
	offered.Node, offered.NodeType, offered.Engineer, offered.Revision = "accept", process.NodeAcceptance, "eve", 2
	offered.Offer = &process.Offer{Engineer: "eve", OfferedAt: t0, ExpiresAt: t0.Add(30 * time.Minute), Number: 1}
	require.NoError(t, st.SaveWorkOrder(ctx, offered, nil))
	require.NoError(t, st.SaveWorkOrder(ctx, wo, nil))
	items, err := st.ListTodo(ctx, "eve", nil, []string{"engineer"})
	require.NoError(t, err)
	require.Len(t, items, 1)
	require.Equal(t, store.TodoOffer, items[0].Kind)
	pool, err = st.ListPool(ctx, []string{"hvac"}, nil)
	require.NoError(t, err)
	require.Empty(t, pool)

	// At the checklist, then closed: nothing left.
	onsite := offered
	onsite.Node, onsite.NodeType, onsite.Offer, onsite.Revision = "onsite", process.NodeChecklist, nil, 3
	require.NoError(t, st.SaveWorkOrder(ctx, onsite, nil))
	items, err = st.ListTodo(ctx, "eve", nil, nil)
	require.NoError(t, err)
	require.Equal(t, store.TodoChecklist, items[0].Kind)
	closed := onsite
	closed.State, closed.Revision = process.StateClosed, 4
	require.NoError(t, st.SaveWorkOrder(ctx, closed, nil))
	items, err = st.ListTodo(ctx, "eve", []string{"hvac"}, []string{"dispatcher"})
	require.NoError(t, err)
	require.Empty(t, items)
}

func TestListWorkOrdersFiltersAndPages(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	for i := 1; i <= 5; i++ {
		require.NoError(t, st.SaveWorkOrder(ctx, workOrder(i, func(wo *process.WorkOrder) {
			if i%2 == 0 {
				wo.Channel, wo.Source, wo.Engineer = "api", "erp", "eve"
			}
			if i == 5 {
				wo.Group = "hvac"
			}
		}), nil))
	}
	page, err := st.ListWorkOrders(ctx, store.WorkOrderFilter{Channel: "api", Source: "erp"})
	require.NoError(t, err)
	require.Len(t, page.Items, 2)
	require.Equal(t, "WO-2026-000004", page.Items[0].Number, "newest first")

	// An engineer sees their own orders and their groups'.
	page, err = st.ListWorkOrders(ctx, store.WorkOrderFilter{Viewer: "eve", ViewerGroups: []string{"hvac"}})
	require.NoError(t, err)
	var numbers []string
	for _, wo := range page.Items {
		numbers = append(numbers, wo.Number)
	}
	require.Equal(t, []string{"WO-2026-000005", "WO-2026-000004", "WO-2026-000002"}, numbers)

	first, err := st.ListWorkOrders(ctx, store.WorkOrderFilter{Limit: 3})
	require.NoError(t, err)
	require.Len(t, first.Items, 3)
	rest, err := st.ListWorkOrders(ctx, store.WorkOrderFilter{Limit: 3, Cursor: first.NextCursor})
	require.NoError(t, err)
	require.Len(t, rest.Items, 2)
	require.Empty(t, rest.NextCursor)
}

func TestContactsAreMatchedByEmailOrPhone(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	ada, err := st.MatchContact(ctx, process.Contact{Name: "Ada", Email: " Ada@Example.com "})
	require.NoError(t, err)
	require.NotEmpty(t, ada.ID)

	byPhone, err := st.MatchContact(ctx, process.Contact{Email: "ada@example.com", Phone: "+357 22-000 000"})
	require.NoError(t, err)
	require.Equal(t, ada.ID, byPhone.ID)
	require.Equal(t, "Ada", byPhone.Name, "the name on file fills in")
	again, err := st.MatchContact(ctx, process.Contact{Phone: "+35722000000"})
	require.NoError(t, err)
	require.Equal(t, ada.ID, again.ID, "the phone was added to the contact")
	stored, err := st.GetContact(ctx, ada.ID)
	require.NoError(t, err)
	require.Equal(t, process.Contact{ID: ada.ID, Name: "Ada", Email: "ada@example.com", Phone: "+35722000000"}, stored)

	nobody, err := st.MatchContact(ctx, process.Contact{Name: "Anonymous"})
	require.NoError(t, err)
	require.Empty(t, nobody.ID, "without email or phone nobody is kept")

	// Ten channels meeting one new person at once make one contact.
	ids := make([]string, 10)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := st.MatchContact(ctx, process.Contact{Email: "bob@example.com"})
			if err == nil {
				ids[i] = c.ID
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		require.Equal(t, ids[0], id)
	}
}

func TestExternalReferencesAreUniquePerSource(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	a, b := uuid.NewString(), uuid.NewString()
	holder, err := st.ClaimExternalRef(ctx, "erp", "R-1", a)
	require.NoError(t, err)
	require.Equal(t, a, holder)
	holder, err = st.ClaimExternalRef(ctx, "erp", "R-1", a)
	require.NoError(t, err)
	require.Equal(t, a, holder, "the same order claims again: a retry")
	holder, err = st.ClaimExternalRef(ctx, "erp", "R-1", b)
	require.NoError(t, err)
	require.Equal(t, a, holder, "another order: taken")
	holder, err = st.ClaimExternalRef(ctx, "crm", "R-1", b)
	require.NoError(t, err)
	require.Equal(t, b, holder, "another source may use the same reference")
}

// TestANewRecordWrittenByTwoAtOnce: a new order's starter writes its creation while its run writes
// a later revision (its first own step), both inserting the row at the same moment. Neither write
// fails — the loser of the race on the number's unique index runs again and finds the row — and
// the newer revision stays.
func TestANewRecordWrittenByTwoAtOnce(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	for i := range 40 {
		created := workOrder(1000 + i)
		picked := created
		picked.Revision, picked.Engineer = 2, "erin"
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for w, wo := range []process.WorkOrder{created, picked} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[w] = s.SaveWorkOrder(ctx, wo, []process.Event{{Seq: wo.Revision, Type: "e", Actor: "x", At: t0}})
			}()
		}
		wg.Wait()
		require.NoError(t, errs[0], "round %d: the starter's write", i)
		require.NoError(t, errs[1], "round %d: the run's write", i)
		got, err := s.GetWorkOrder(ctx, created.ID)
		require.NoError(t, err)
		require.Equal(t, int64(2), got.Revision)
		require.Equal(t, "erin", got.Engineer)
	}
}
