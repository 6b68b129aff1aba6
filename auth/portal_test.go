package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPortalSession(t *testing.T) {
	k := testKeys(t, strings.Repeat("s", 32))
	now := time.Now()
	tok, err := k.IssuePortalSession("c-1", now)
	require.NoError(t, err)
	id, err := k.VerifyPortalSession(tok)
	require.NoError(t, err)
	require.Equal(t, "c-1", id)

	// A session is neither a staff token nor a link nor a form token.
	_, err = k.Verify(tok)
	require.Error(t, err)
	_, err = k.VerifyLink(tok, "approval")
	require.Error(t, err)
	_, err = k.VerifyPortalForm(tok, "c-1")
	require.Error(t, err)
	staff, err := k.Issue(Principal{Subject: "alice", Roles: []Role{RoleAdmin}}, time.Hour, now)
	require.NoError(t, err)
	_, err = k.VerifyPortalSession(staff)
	require.Error(t, err, "a staff token is not a portal session")

	old, err := k.IssuePortalSession("c-1", now.Add(-PortalSessionTTL-time.Minute))
	require.NoError(t, err)
	_, err = k.VerifyPortalSession(old)
	require.Error(t, err, "expired")
	_, err = testKeys(t, strings.Repeat("o", 32)).VerifyPortalSession(tok)
	require.Error(t, err, "another secret")
	_, err = k.IssuePortalSession("", now)
	require.Error(t, err)
}

func TestPortalForm(t *testing.T) {
	k := testKeys(t, strings.Repeat("s", 32))
	now := time.Now()
	a, err := k.IssuePortalForm("cookie-a", now)
	require.NoError(t, err)
	b, err := k.IssuePortalForm("cookie-a", now)
	require.NoError(t, err)
	na, err := k.VerifyPortalForm(a, "cookie-a")
	require.NoError(t, err)
	nb, err := k.VerifyPortalForm(b, "cookie-a")
	require.NoError(t, err)
	require.NotEqual(t, na, nb, "every form has its own nonce")
	again, err := k.VerifyPortalForm(a, "cookie-a")
	require.NoError(t, err)
	require.Equal(t, na, again, "the same form posts the same nonce")

	_, err = k.VerifyPortalForm(a, "cookie-b")
	require.Error(t, err, "bound to the browser it was shown in")
	_, err = k.VerifyPortalForm(a, "")
	require.Error(t, err)
	old, err := k.IssuePortalForm("cookie-a", now.Add(-PortalFormTTL-time.Minute))
	require.NoError(t, err)
	_, err = k.VerifyPortalForm(old, "cookie-a")
	require.Error(t, err, "expired")
	_, err = k.VerifyPortalSession(a)
	require.Error(t, err, "a form token is not a session")
}
