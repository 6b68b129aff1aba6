package activities_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

func TestPickEngineer(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	_, err := st.CreateGroup(ctx, store.NewGroup{Key: "central-field", Title: "Central field"})
	require.NoError(t, err)
	for _, m := range []string{"bo", "al"} {
		_, _, err := st.PutGroupMember(ctx, "central-field", m, nil)
		require.NoError(t, err)
	}
	a := &activities.Assignments{Store: st}

	pick := func(key, strategy string) string {
		t.Helper()
		res, err := a.PickEngineer(ctx, activities.PickEngineerInput{Key: key, Group: "central-field", Strategy: strategy})
		require.NoError(t, err)
		return res.Engineer
	}
	require.Equal(t, "al", pick("wo-1:assign", "round_robin"))
	require.Equal(t, "bo", pick("wo-2:assign", "round_robin"))
	require.Equal(t, "al", pick("wo-1:assign", "round_robin"), "a retry gets the same engineer")
	require.Equal(t, "al", pick("wo-3:assign", "least_loaded"), "al was picked least recently")

	res, err := a.PickEngineer(ctx, activities.PickEngineerInput{Key: "wo-4:assign", Group: "hvac", Strategy: "round_robin"})
	require.NoError(t, err)
	require.Empty(t, res.Engineer, "an unknown group has nobody to pick: the order waits in the pool")

	var appErr *temporal.ApplicationError
	for _, in := range []activities.PickEngineerInput{
		{Key: "wo-5:assign", Group: "central-field", Strategy: "pool"},
		{Key: "wo-5:assign", Group: "central-field", Strategy: ""},
		{Key: "", Group: "central-field", Strategy: "round_robin"},
	} {
		_, err = a.PickEngineer(ctx, in)
		require.True(t, errors.As(err, &appErr) && appErr.NonRetryable(), "%+v: %v", in, err)
	}
	require.Equal(t, "UnknownStrategy", func() string {
		_, err := a.PickEngineer(ctx, activities.PickEngineerInput{Key: "k", Group: "central-field", Strategy: "random"})
		require.True(t, errors.As(err, &appErr))
		return appErr.Type()
	}())
}
