package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

// group creates a group with the members, all active.
func group(t *testing.T, s *store.Store, key string, members ...string) {
	t.Helper()
	ctx := context.Background()
	_, err := s.CreateGroup(ctx, store.NewGroup{Key: key, Title: key, CreatedBy: "sam"})
	require.NoError(t, err)
	for _, m := range members {
		_, created, err := s.PutGroupMember(ctx, key, m, nil)
		require.NoError(t, err)
		require.True(t, created)
	}
}

func TestGroupsAndMembers(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)

	g, err := s.CreateGroup(ctx, store.NewGroup{Key: "hvac", Title: "HVAC", CreatedBy: "sam", CreateKey: "k1"})
	require.NoError(t, err)
	require.Equal(t, "HVAC", g.Title)
	require.Empty(t, g.Members)

	// The same request retried gets the group; anything else is a conflict.
	again, err := s.CreateGroup(ctx, store.NewGroup{Key: "hvac", Title: "HVAC", CreatedBy: "sam", CreateKey: "k1"})
	require.NoError(t, err)
	require.Equal(t, g.CreatedAt, again.CreatedAt)
	for _, other := range []store.NewGroup{
		{Key: "hvac", Title: "HVAC", CreatedBy: "sam"},
		{Key: "hvac", Title: "HVAC", CreatedBy: "sam", CreateKey: "k2"},
		{Key: "hvac", Title: "HVAC", CreatedBy: "bob", CreateKey: "k1"},
		{Key: "hvac", Title: "Heating", CreatedBy: "sam", CreateKey: "k1"},
	} {
		_, err = s.CreateGroup(ctx, other)
		require.ErrorIs(t, err, store.ErrGroupExists, "%+v", other)
	}

	m, created, err := s.PutGroupMember(ctx, "hvac", "erin", nil)
	require.NoError(t, err)
	require.True(t, created)
	require.True(t, m.Active, "new members are active")
	inactive := false
	m, created, err = s.PutGroupMember(ctx, "hvac", "erin", &inactive)
	require.NoError(t, err)
	require.False(t, created)
	require.False(t, m.Active)
	m, created, err = s.PutGroupMember(ctx, "hvac", "erin", nil)
	require.NoError(t, err)
	require.False(t, created)
	require.False(t, m.Active, "no flag leaves the member as it is")
	_, _, err = s.PutGroupMember(ctx, "hvac", "dan", nil)
	require.NoError(t, err)
	_, _, err = s.PutGroupMember(ctx, "nope", "dan", nil)
	require.ErrorIs(t, err, store.ErrNotFound)

	g, err = s.GetGroup(ctx, "hvac")
	require.NoError(t, err)
	require.Len(t, g.Members, 2)
	require.Equal(t, "dan", g.Members[0].Username, "members by username")
	require.True(t, g.Members[0].Active)
	require.Equal(t, "erin", g.Members[1].Username)
	require.False(t, g.Members[1].Active)

	g, err = s.UpdateGroup(ctx, "hvac", "Heating and cooling")
	require.NoError(t, err)
	require.Equal(t, "Heating and cooling", g.Title)
	require.Len(t, g.Members, 2)
	_, err = s.UpdateGroup(ctx, "nope", "x")
	require.ErrorIs(t, err, store.ErrNotFound)

	group(t, s, "central-field", "carl")
	groups, err := s.ListGroups(ctx)
	require.NoError(t, err)
	require.Len(t, groups, 2)
	require.Equal(t, "central-field", groups[0].Key)
	require.Equal(t, []store.GroupMember{groups[0].Members[0]}, groups[0].Members)
	require.Equal(t, "carl", groups[0].Members[0].Username)
	require.Equal(t, "hvac", groups[1].Key)
	require.Len(t, groups[1].Members, 2)

	require.NoError(t, s.RemoveGroupMember(ctx, "hvac", "dan"))
	require.ErrorIs(t, s.RemoveGroupMember(ctx, "hvac", "dan"), store.ErrNotFound)
	require.NoError(t, s.DeleteGroup(ctx, "hvac"))
	require.ErrorIs(t, s.DeleteGroup(ctx, "hvac"), store.ErrNotFound)
	_, err = s.GetGroup(ctx, "hvac")
	require.ErrorIs(t, err, store.ErrNotFound)

	// A deleted group's key is free again, without its old members.
	g, err = s.CreateGroup(ctx, store.NewGroup{Key: "hvac", Title: "HVAC"})
	require.NoError(t, err)
	require.Empty(t, g.Members)
}

func TestRoundRobinTakesTurns(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	group(t, s, "central-field", "carl", "alma", "bert")

	var picks []string
	for i := range 7 {
		e, err := s.PickEngineer(ctx, fmt.Sprintf("order-%d", i), "central-field", store.StrategyRoundRobin)
		require.NoError(t, err)
		picks = append(picks, e)
	}
	require.Equal(t, []string{"alma", "bert", "carl", "alma", "bert", "carl", "alma"}, picks, "username order, wrapping")

	// A retried pick returns the first answer and does not advance the turn.
	e, err := s.PickEngineer(ctx, "order-1", "central-field", store.StrategyRoundRobin)
	require.NoError(t, err)
	require.Equal(t, "bert", e)

	// An inactive member is skipped; a member who joins takes their turn in username order.
	off := false
	_, _, err = s.PutGroupMember(ctx, "central-field", "bert", &off)
	require.NoError(t, err)
	_, _, err = s.PutGroupMember(ctx, "central-field", "bess", nil)
	require.NoError(t, err)
	picks = nil
	for i := range 4 {
		e, err := s.PickEngineer(ctx, fmt.Sprintf("later-%d", i), "central-field", store.StrategyRoundRobin)
		require.NoError(t, err)
		picks = append(picks, e)
	}
	require.Equal(t, []string{"bess", "carl", "alma", "bess"}, picks)

	// The last pick left the group: the turn goes on after where they were.
	require.NoError(t, s.RemoveGroupMember(ctx, "central-field", "bess"))
	e, err = s.PickEngineer(ctx, "after-removal", "central-field", store.StrategyRoundRobin)
	require.NoError(t, err)
	require.Equal(t, "carl", e)
}

func TestRoundRobinIsFairUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	group(t, s, "north-field", "ana", "ben", "cy")

	const n = 30
	picks := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			picks[i], errs[i] = s.PickEngineer(ctx, fmt.Sprintf("order-%d", i), "north-field", store.StrategyRoundRobin)
		})
	}
	wg.Wait()
	counts := map[string]int{}
	for i := range n {
		require.NoError(t, errs[i])
		counts[picks[i]]++
	}
	require.Equal(t, map[string]int{"ana": 10, "ben": 10, "cy": 10}, counts)

	// Concurrent retries of one key all get the engineer picked first.
	again := make([]string, 10)
	for i := range again {
		wg.Go(func() {
			again[i], errs[i] = s.PickEngineer(ctx, "order-7", "north-field", store.StrategyRoundRobin)
		})
	}
	wg.Wait()
	for i, e := range again {
		require.NoError(t, errs[i])
		require.Equal(t, picks[7], e)
	}

	// Concurrent first picks of one new key agree too, and take one turn only.
	same := make([]string, 8)
	for i := range same {
		wg.Go(func() {
			same[i], errs[i] = s.PickEngineer(ctx, "fresh", "north-field", store.StrategyRoundRobin)
		})
	}
	wg.Wait()
	for i, e := range same {
		require.NoError(t, errs[i])
		require.Equal(t, same[0], e)
	}
	next, err := s.PickEngineer(ctx, "next", "north-field", store.StrategyRoundRobin)
	require.NoError(t, err)
	require.NotEqual(t, same[0], next)
}

// order is an open work order of the engineer, or a closed one.
func order(n int, engineer string, state process.StageState) process.WorkOrder {
	return process.WorkOrder{
		ID: uuid.NewString(), Number: fmt.Sprintf("WO-2026-%06d", n), RecordType: "repair", Stage: "repair", State: state,
		Priority: "medium", Subject: "Boiler", Group: "south-field", Engineer: engineer,
		Definition: process.DefinitionRef{Key: "repair", Version: "abc"}, CreatedAt: t0, UpdatedAt: t0, Revision: 1,
	}
}

func TestLeastLoadedPrefersFewerOpenOrders(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	group(t, s, "south-field", "ana", "ben", "cy")

	// ana has two open orders, ben one open and three closed, cy one open.
	var cyOrder process.WorkOrder
	n := 0
	for _, o := range []struct {
		engineer string
		state    process.StageState
	}{
		{"ana", process.StateInProgress}, {"ana", process.StateNew},
		{"ben", process.StateInProgress}, {"ben", process.StateClosed}, {"ben", process.StateClosed}, {"ben", process.StateClosed},
		{"cy", process.StateInProgress},
	} {
		n++
		wo := order(n, o.engineer, o.state)
		if o.engineer == "cy" {
			cyOrder = wo
		}
		require.NoError(t, s.SaveWorkOrder(ctx, wo, nil))
	}

	// ben and cy tie on one open order: ben (by name) first, then cy, who was picked less
	// recently than ben.
	pick := func(key string) string {
		t.Helper()
		e, err := s.PickEngineer(ctx, key, "south-field", store.StrategyLeastLoaded)
		require.NoError(t, err)
		return e
	}
	require.Equal(t, "ben", pick("p1"))
	require.Equal(t, "cy", pick("p2"))
	require.Equal(t, "ben", pick("p3"))
	require.Equal(t, "ben", pick("p1"), "a retried pick answers the same")

	// cy's order closes: cy has none open now.
	cyOrder.State, cyOrder.Revision = process.StateClosed, 2
	require.NoError(t, s.SaveWorkOrder(ctx, cyOrder, nil))
	require.Equal(t, "cy", pick("p4"))
	require.Equal(t, "cy", pick("p5"), "picks do not count as load until their order is saved")

	// Two new open orders for cy (the picks' orders): ben is the least loaded again.
	require.NoError(t, s.SaveWorkOrder(ctx, order(8, "cy", process.StateNew), nil))
	require.NoError(t, s.SaveWorkOrder(ctx, order(9, "cy", process.StateNew), nil))
	require.Equal(t, "ben", pick("p6"))

	// Inactive members are never picked, whatever their load.
	off := false
	_, _, err := s.PutGroupMember(ctx, "south-field", "ben", &off)
	require.NoError(t, err)
	require.Equal(t, "ana", pick("p7"), "ana and cy have two open orders each; ana was never picked")
}

func TestPickWithoutActiveMembers(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	for _, strategy := range []string{store.StrategyRoundRobin, store.StrategyLeastLoaded} {
		e, err := s.PickEngineer(ctx, "k-"+strategy, "no-such-group", strategy)
		require.NoError(t, err)
		require.Empty(t, e)
	}
	group(t, s, "customer-care")
	e, err := s.PickEngineer(ctx, "k1", "customer-care", store.StrategyRoundRobin)
	require.NoError(t, err)
	require.Empty(t, e, "no members")

	off := false
	_, _, err = s.PutGroupMember(ctx, "customer-care", "fay", &off)
	require.NoError(t, err)
	e, err = s.PickEngineer(ctx, "k1", "customer-care", store.StrategyLeastLoaded)
	require.NoError(t, err)
	require.Empty(t, e, "no active member")

	// An empty answer is not recorded: once someone is active, the same key gets them.
	on := true
	_, _, err = s.PutGroupMember(ctx, "customer-care", "fay", &on)
	require.NoError(t, err)
	e, err = s.PickEngineer(ctx, "k1", "customer-care", store.StrategyRoundRobin)
	require.NoError(t, err)
	require.Equal(t, "fay", e)

	// A recorded pick survives its group.
	require.NoError(t, s.DeleteGroup(ctx, "customer-care"))
	e, err = s.PickEngineer(ctx, "k1", "customer-care", store.StrategyRoundRobin)
	require.NoError(t, err)
	require.Equal(t, "fay", e)

	_, err = s.PickEngineer(ctx, "k2", "customer-care", "pool")
	require.ErrorIs(t, err, store.ErrUnknownStrategy)
}
