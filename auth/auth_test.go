package auth

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

func testKeys(t *testing.T, secret string) *Keys {
	t.Helper()
	k, err := NewKeys([]byte(secret))
	require.NoError(t, err)
	return k
}

func TestIssueAndVerify(t *testing.T) {
	k := testKeys(t, strings.Repeat("s", 32))
	now := time.Now()
	tok, err := k.Issue(Principal{Subject: "alice", Roles: []Role{RoleAgent}, Groups: []string{"billing-desk"}}, time.Hour, now)
	require.NoError(t, err)
	p, err := k.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, Principal{Subject: "alice", Roles: []Role{RoleAgent}, Groups: []string{"billing-desk"}}, p)
	require.True(t, p.HasAnyRole(RoleAdmin, RoleAgent))
	require.False(t, p.HasAnyRole(RoleAdmin))
}

func TestVerifyRejects(t *testing.T) {
	k := testKeys(t, strings.Repeat("s", 32))
	other := testKeys(t, strings.Repeat("o", 32))
	past := time.Now().Add(-2 * time.Hour)

	expired, err := k.Issue(Principal{Subject: "alice"}, time.Hour, past)
	require.NoError(t, err)
	foreign, err := other.Issue(Principal{Subject: "alice"}, time.Hour, time.Now())
	require.NoError(t, err)
	none := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.MapClaims{"sub": "alice", "iss": Issuer, "exp": time.Now().Add(time.Hour).Unix()})
	unsigned, err := none.SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	noExpiry, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "alice", "iss": Issuer}).SignedString([]byte(strings.Repeat("s", 32)))
	require.NoError(t, err)

	for name, tok := range map[string]string{"expired": expired, "foreign": foreign, "alg none": unsigned, "no expiry": noExpiry, "garbage": "abc.def.ghi"} {
		_, err := k.Verify(tok)
		require.Error(t, err, name)
	}
}

func TestIssueRejectsUnknownRole(t *testing.T) {
	k := testKeys(t, strings.Repeat("s", 32))
	_, err := k.Issue(Principal{Subject: "a", Roles: []Role{"root"}}, time.Hour, time.Now())
	require.ErrorContains(t, err, `unknown role "root"`)
	_, err = ParseRoles("agent, boss")
	require.ErrorContains(t, err, `unknown role "boss"`)
	roles, err := ParseRoles("agent,supervisor")
	require.NoError(t, err)
	require.Equal(t, []Role{RoleAgent, RoleSupervisor}, roles)
}

func TestNewKeysNeedsLongSecret(t *testing.T) {
	_, err := NewKeys([]byte("short"))
	require.Error(t, err)
}

func TestLoadSecretSharedThroughDataDir(t *testing.T) {
	t.Setenv(SecretEnv, "")
	dir := filepath.Join(t.TempDir(), "data")
	_, err := LoadSecret(dir, false)
	require.Error(t, err, "without create, a missing secret is an error")

	first, err := LoadSecret(dir, true)
	require.NoError(t, err)
	require.Len(t, first, 64)
	again, err := LoadSecret(dir, false)
	require.NoError(t, err)
	require.Equal(t, first, again)
	fi, err := os.Stat(filepath.Join(dir, "jwt-secret"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	t.Setenv(SecretEnv, "from-the-environment-which-is-long-enough")
	env, err := LoadSecret(dir, true)
	require.NoError(t, err)
	require.Equal(t, "from-the-environment-which-is-long-enough", string(env))
}

func TestLinks(t *testing.T) {
	k := testKeys(t, strings.Repeat("s", 32))
	link, err := k.IssueLink(LinkClaims{Purpose: "approval", RecordID: "r1", ItemID: "a1"}, time.Hour, time.Now())
	require.NoError(t, err)
	got, err := k.VerifyLink(link, "approval")
	require.NoError(t, err)
	require.Equal(t, LinkClaims{Purpose: "approval", RecordID: "r1", ItemID: "a1"}, got)
	_, err = k.VerifyLink(link, "rating")
	require.Error(t, err, "a link is good for its purpose only")
	_, err = k.Verify(link)
	require.Error(t, err, "a link is not a staff token")
	staff, err := k.Issue(Principal{Subject: "alice", Roles: []Role{RoleAdmin}}, time.Hour, time.Now())
	require.NoError(t, err)
	_, err = k.VerifyLink(staff, "approval")
	require.Error(t, err, "a staff token is not a link")
	old, err := k.IssueLink(LinkClaims{Purpose: "approval", RecordID: "r1", ItemID: "a1"}, time.Minute, time.Now().Add(-time.Hour))
	require.NoError(t, err)
	_, err = k.VerifyLink(old, "approval")
	require.Error(t, err)
}
