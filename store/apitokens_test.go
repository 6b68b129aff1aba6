package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

func TestAPITokensAreKeptHashedAndRevocable(t *testing.T) {
	ctx := context.Background()
	url := storetest.URL(t)
	st, err := store.Open(ctx, url)
	require.NoError(t, err)
	t.Cleanup(st.Close)
	tok, secret, err := st.CreateAPIToken(ctx, "erp", []string{"integration"}, nil, "root")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(secret, store.APITokenPrefix))
	_, _, err = st.CreateAPIToken(ctx, "erp", []string{"integration"}, nil, "root")
	require.ErrorIs(t, err, store.ErrNameTaken)

	name, roles, groups, err := st.LookupAPIToken(ctx, secret)
	require.NoError(t, err)
	require.Equal(t, "erp", name)
	require.Equal(t, []string{"integration"}, roles)
	require.Empty(t, groups)
	// Twice in a row (the second lookup does not write last_used_at again).
	_, _, _, err = st.LookupAPIToken(ctx, secret)
	require.NoError(t, err)
	_, _, _, err = st.LookupAPIToken(ctx, secret+"x")
	require.ErrorIs(t, err, store.ErrNotFound)

	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var stored []byte
	require.NoError(t, conn.QueryRow(ctx, "SELECT hash FROM api_tokens WHERE id = $1", tok.ID).Scan(&stored))
	require.Len(t, stored, 32, "a SHA-256 hash")
	require.NotContains(t, string(stored), secret[len(store.APITokenPrefix):8], "only the hash is kept")

	list, err := st.ListAPITokens(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NotNil(t, list[0].LastUsedAt)

	require.NoError(t, st.RevokeAPIToken(ctx, tok.ID))
	require.ErrorIs(t, st.RevokeAPIToken(ctx, tok.ID), store.ErrNotFound)
	_, _, _, err = st.LookupAPIToken(ctx, secret)
	require.ErrorIs(t, err, store.ErrNotFound, "a revoked token stops working at once")
}
