package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const testIssuer = "https://login.example.com/realms/acme"

// jwksServer serves a JWK Set that a test can replace, and counts how often it was fetched.
type jwksServer struct {
	*httptest.Server
	mu    sync.Mutex
	keys  []map[string]string
	hits  atomic.Int64
	fails atomic.Bool
}

func newJWKSServer(t *testing.T, keys ...map[string]string) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		if s.fails.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": s.keys})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) serve(keys ...map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK is the public JWK of key, written by hand (not by the library under test).
func rsaJWK(key *rsa.PrivateKey, kid string) map[string]string {
	return map[string]string{
		"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}
}

func ecJWK(key *ecdsa.PrivateKey, kid string) map[string]string {
	raw, err := key.PublicKey.Bytes() // 0x04 || X || Y, each padded to 32 bytes
	if err != nil {
		panic(err)
	}
	return map[string]string{
		"kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256",
		"x": b64(raw[1:33]), "y": b64(raw[33:65]),
	}
}

func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return key
}

// idpClaims are the claims of a valid provider token; tests change what they need.
func idpClaims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": testIssuer, "aud": []string{"fieldflow-api", "account"}, "sub": "u-123",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"roles": []string{"agent", "offline_access", "supervisor", "agent"}, "groups": []string{"billing-desk"},
	}
}

func signToken(t *testing.T, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

// trustingKeys are Keys that trust the test provider at srv, with the Fieldflow secret "s"×32.
func trustingKeys(t *testing.T, srv *jwksServer, change func(*IdentityProvider)) *Keys {
	t.Helper()
	k := testKeys(t, strings.Repeat("s", 32))
	idp := IdentityProvider{JWKSURL: srv.URL, Issuer: testIssuer, Audience: "fieldflow-api"}
	if change != nil {
		change(&idp)
	}
	require.NoError(t, k.TrustIssuer(t.Context(), idp))
	return k
}

func TestIdentityProviderTokenVerifies(t *testing.T) {
	key := newRSAKey(t)
	srv := newJWKSServer(t, rsaJWK(key, "k1"))
	k := trustingKeys(t, srv, nil)

	p, err := k.Verify(signToken(t, jwt.SigningMethodRS256, key, "k1", idpClaims()))
	require.NoError(t, err)
	// offline_access is not a Fieldflow role: ignored; the duplicate agent is kept once.
	require.Equal(t, Principal{Subject: "u-123", Roles: []Role{RoleAgent, RoleSupervisor}, Groups: []string{"billing-desk"}}, p)

	// Fieldflow's own tokens still verify beside the provider's.
	own, err := k.Issue(Principal{Subject: "alice", Roles: []Role{RoleAdmin}}, time.Hour, time.Now())
	require.NoError(t, err)
	p, err = k.Verify(own)
	require.NoError(t, err)
	require.Equal(t, Principal{Subject: "alice", Roles: []Role{RoleAdmin}}, p)
}

func TestIdentityProviderNestedAndNamespacedClaims(t *testing.T) {
	key := newRSAKey(t)
	srv := newJWKSServer(t, rsaJWK(key, "k1"))

	keycloak := trustingKeys(t, srv, func(idp *IdentityProvider) {
		idp.RolesClaim = "realm_access.roles"
		idp.GroupsClaim = "groups"
	})
	c := idpClaims()
	delete(c, "roles")
	c["realm_access"] = map[string]any{"roles": []string{"default-roles-acme", "dispatcher"}}
	c["resource_access"] = map[string]any{"fieldflow-api": map[string]any{"roles": []string{"admin"}}}
	p, err := keycloak.Verify(signToken(t, jwt.SigningMethodRS256, key, "k1", c))
	require.NoError(t, err)
	require.Equal(t, []Role{RoleDispatcher}, p.Roles)
	require.Equal(t, []string{"billing-desk"}, p.Groups)

	// A client role two levels down, whose client name holds a dash.
	client := trustingKeys(t, srv, func(idp *IdentityProvider) { idp.RolesClaim = "resource_access.fieldflow-api.roles" })
	p, err = client.Verify(signToken(t, jwt.SigningMethodRS256, key, "k1", c))
	require.NoError(t, err)
	require.Equal(t, []Role{RoleAdmin}, p.Roles)

	// Auth0 namespaces custom claims with a URL, dots included; roles may also be one string.
	auth0 := trustingKeys(t, srv, func(idp *IdentityProvider) {
		idp.RolesClaim = "https://fieldflow.example.com/roles"
		idp.GroupsClaim = "https://fieldflow.example.com/groups"
	})
	c = idpClaims()
	c["https://fieldflow.example.com/roles"] = "engineer followup"
	c["https://fieldflow.example.com/groups"] = []string{"north", "south"}
	p, err = auth0.Verify(signToken(t, jwt.SigningMethodRS256, key, "k1", c))
	require.NoError(t, err)
	require.Equal(t, Principal{Subject: "u-123", Roles: []Role{RoleEngineer, RoleFollowUp}, Groups: []string{"north", "south"}}, p)
}

func TestIdentityProviderTokenRefused(t *testing.T) {
	key := newRSAKey(t)
	stranger := newRSAKey(t)
	srv := newJWKSServer(t, rsaJWK(key, "k1"))
	k := trustingKeys(t, srv, nil)

	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := idpClaims()
		change(c)
		return c
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	noneTok := signToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "k1", idpClaims())

	for name, tc := range map[string]struct {
		token string
		want  string
	}{
		"wrong issuer": {signToken(t, jwt.SigningMethodRS256, key, "k1", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" })),
			`the token's issuer "https://evil.example.com" is not trusted (trusted: fieldflow, https://login.example.com/realms/acme)`},
		"wrong audience": {signToken(t, jwt.SigningMethodRS256, key, "k1", with(func(c jwt.MapClaims) { c["aud"] = "another-app" })),
			"token has invalid audience"},
		"no audience": {signToken(t, jwt.SigningMethodRS256, key, "k1", with(func(c jwt.MapClaims) { delete(c, "aud") })),
			"aud claim is required"},
		"expired": {signToken(t, jwt.SigningMethodRS256, key, "k1", with(func(c jwt.MapClaims) { c["exp"] = time.Now().Add(-time.Minute).Unix() })),
			"token is expired"},
		"no expiry": {signToken(t, jwt.SigningMethodRS256, key, "k1", with(func(c jwt.MapClaims) { delete(c, "exp") })),
			"exp claim is required"},
		"issued in the future": {signToken(t, jwt.SigningMethodRS256, key, "k1", with(func(c jwt.MapClaims) { c["iat"] = time.Now().Add(time.Hour).Unix() })),
			"token used before issued"},
		"no subject": {signToken(t, jwt.SigningMethodRS256, key, "k1", with(func(c jwt.MapClaims) { delete(c, "sub") })),
			"has no subject"},
		"no known role": {signToken(t, jwt.SigningMethodRS256, key, "k1", with(func(c jwt.MapClaims) { c["roles"] = []string{"offline_access", "uma_authorization"} })),
			`grants no Fieldflow role in its claim "roles"`},
		"no roles claim": {signToken(t, jwt.SigningMethodRS256, key, "k1", with(func(c jwt.MapClaims) { delete(c, "roles") })),
			"grants no Fieldflow role"},
		"signed by another key under a known kid": {signToken(t, jwt.SigningMethodRS256, stranger, "k1", idpClaims()),
			"verification error"},
		"no kid": {signToken(t, jwt.SigningMethodRS256, key, "", idpClaims()),
			"names no key (kid)"},
		"alg none":                     {noneTok, "signing method none is invalid"},
		"alg none without a signature": {strings.TrimSuffix(noneTok, "."), "token is malformed"},
		// Alg confusion: the public key, which anyone can fetch, used as an HMAC secret.
		"HS256 with the public key PEM": {signToken(t, jwt.SigningMethodHS256, pubPEM, "k1", idpClaims()),
			"signing method HS256 is invalid"},
		"HS256 with the public key DER": {signToken(t, jwt.SigningMethodHS256, pubDER, "k1", idpClaims()),
			"signing method HS256 is invalid"},
		// The provider's issuer with Fieldflow's own secret: the provider's rules apply, not the secret's.
		"HS256 with the Fieldflow secret": {signToken(t, jwt.SigningMethodHS256, []byte(strings.Repeat("s", 32)), "k1", idpClaims()),
			"signing method HS256 is invalid"},
		"RS512 not allowed": {signToken(t, jwt.SigningMethodRS512, key, "k1", idpClaims()),
			"signing method RS512 is invalid"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := k.Verify(tc.token)
			require.Error(t, err)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestIdentityProviderUnknownKidRefreshesOnceThenRefuses(t *testing.T) {
	key := newRSAKey(t)
	other := newRSAKey(t)
	srv := newJWKSServer(t, rsaJWK(key, "k1"))
	k := trustingKeys(t, srv, func(idp *IdentityProvider) { idp.UnknownKeyRefresh = time.Hour })
	require.EqualValues(t, 1, srv.hits.Load(), "the key set is fetched when the provider is trusted")

	tok := signToken(t, jwt.SigningMethodRS256, other, "k9", idpClaims())
	_, err := k.Verify(tok)
	require.ErrorContains(t, err, `no key "k9" in the identity provider's key set`)
	require.EqualValues(t, 2, srv.hits.Load(), "an unknown kid fetches the set again")

	// Within the rate limit another unknown kid is refused without a fetch, and without waiting.
	start := time.Now()
	_, err = k.Verify(signToken(t, jwt.SigningMethodRS256, other, "k10", idpClaims()))
	require.Error(t, err)
	require.Less(t, time.Since(start), 2*time.Second)
	require.EqualValues(t, 2, srv.hits.Load())

	// Known keys keep working meanwhile.
	_, err = k.Verify(signToken(t, jwt.SigningMethodRS256, key, "k1", idpClaims()))
	require.NoError(t, err)
}

func TestIdentityProviderKeyRotation(t *testing.T) {
	oldKey, newKey := newRSAKey(t), newRSAKey(t)
	srv := newJWKSServer(t, rsaJWK(oldKey, "old"))
	k := trustingKeys(t, srv, nil)
	_, err := k.Verify(signToken(t, jwt.SigningMethodRS256, oldKey, "old", idpClaims()))
	require.NoError(t, err)

	// The provider rotates: it publishes only the new key, and signs with it.
	srv.serve(rsaJWK(newKey, "new"))
	p, err := k.Verify(signToken(t, jwt.SigningMethodRS256, newKey, "new", idpClaims()))
	require.NoError(t, err, "an unknown kid refreshes the key set")
	require.Equal(t, "u-123", p.Subject)

	// The refresh replaced the set: the retired key no longer verifies anything.
	_, err = k.Verify(signToken(t, jwt.SigningMethodRS256, oldKey, "old", idpClaims()))
	require.ErrorContains(t, err, `no key "old"`)
}

func TestIdentityProviderPeriodicRefresh(t *testing.T) {
	oldKey, newKey := newRSAKey(t), newRSAKey(t)
	srv := newJWKSServer(t, rsaJWK(oldKey, "old"))
	k := trustingKeys(t, srv, func(idp *IdentityProvider) {
		idp.RefreshInterval = 50 * time.Millisecond
		idp.UnknownKeyRefresh = time.Hour
	})
	// Spend the one refresh an unknown kid may cause, so only the periodic one can bring "new".
	_, err := k.Verify(signToken(t, jwt.SigningMethodRS256, newKey, "nope", idpClaims()))
	require.Error(t, err)

	srv.serve(rsaJWK(oldKey, "old"), rsaJWK(newKey, "new"))
	tok := signToken(t, jwt.SigningMethodRS256, newKey, "new", idpClaims())
	require.Eventually(t, func() bool {
		_, err := k.Verify(tok)
		return err == nil
	}, 5*time.Second, 20*time.Millisecond)
}

func TestIdentityProviderES256(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rsaKey := newRSAKey(t)
	srv := newJWKSServer(t, ecJWK(ecKey, "ec1"), rsaJWK(rsaKey, "rsa1"))
	k := trustingKeys(t, srv, func(idp *IdentityProvider) { idp.Algorithms = []string{"ES256", "RS256"} })

	p, err := k.Verify(signToken(t, jwt.SigningMethodES256, ecKey, "ec1", idpClaims()))
	require.NoError(t, err)
	require.Equal(t, "u-123", p.Subject)
	_, err = k.Verify(signToken(t, jwt.SigningMethodRS256, rsaKey, "rsa1", idpClaims()))
	require.NoError(t, err)

	// A token must use the algorithm of the key its kid names.
	_, err = k.Verify(signToken(t, jwt.SigningMethodRS256, rsaKey, "ec1", idpClaims()))
	require.ErrorContains(t, err, `key "ec1" is for ES256, the token says RS256`)

	// Only RS256 by default.
	rsOnly := trustingKeys(t, srv, nil)
	_, err = rsOnly.Verify(signToken(t, jwt.SigningMethodES256, ecKey, "ec1", idpClaims()))
	require.ErrorContains(t, err, "signing method ES256 is invalid")
}

func TestIdentityProviderKeyUse(t *testing.T) {
	key := newRSAKey(t)
	enc := rsaJWK(key, "enc1")
	enc["use"] = "enc"
	delete(enc, "alg")
	srv := newJWKSServer(t, enc)
	k := trustingKeys(t, srv, nil)
	_, err := k.Verify(signToken(t, jwt.SigningMethodRS256, key, "enc1", idpClaims()))
	require.ErrorContains(t, err, `key "enc1" is not a signing key`)
}

func TestTrustIssuerConfiguration(t *testing.T) {
	srv := newJWKSServer(t)
	k := testKeys(t, strings.Repeat("s", 32))
	for name, tc := range map[string]struct {
		idp  IdentityProvider
		want string
	}{
		"no issuer":         {IdentityProvider{JWKSURL: srv.URL}, "needs its issuer (FIELDFLOW_OIDC_ISSUER)"},
		"fieldflow issuer":  {IdentityProvider{JWKSURL: srv.URL, Issuer: Issuer}, "that is Fieldflow's own"},
		"not a URL":         {IdentityProvider{JWKSURL: "keys.json", Issuer: testIssuer}, "is not an http(s) URL"},
		"file URL":          {IdentityProvider{JWKSURL: "file:///etc/keys.json", Issuer: testIssuer}, "is not an http(s) URL"},
		"HS256 allowed":     {IdentityProvider{JWKSURL: srv.URL, Issuer: testIssuer, Algorithms: []string{"RS256", "HS256"}}, `algorithm "HS256" cannot be trusted`},
		"none allowed":      {IdentityProvider{JWKSURL: srv.URL, Issuer: testIssuer, Algorithms: []string{"none"}}, `algorithm "none" cannot be trusted`},
		"unknown algorithm": {IdentityProvider{JWKSURL: srv.URL, Issuer: testIssuer, Algorithms: []string{"rs256"}}, `algorithm "rs256" cannot be trusted`},
	} {
		t.Run(name, func(t *testing.T) {
			require.ErrorContains(t, k.TrustIssuer(t.Context(), tc.idp), tc.want)
		})
	}
	require.NoError(t, k.TrustIssuer(t.Context(), IdentityProvider{JWKSURL: srv.URL, Issuer: testIssuer}))
	require.ErrorContains(t, k.TrustIssuer(t.Context(), IdentityProvider{JWKSURL: srv.URL, Issuer: testIssuer}), "already trusted")
}

func TestTrustIssuerUnreachableAtStart(t *testing.T) {
	key := newRSAKey(t)
	srv := newJWKSServer(t, rsaJWK(key, "k1"))
	srv.fails.Store(true)
	var reported atomic.Int64
	k := trustingKeys(t, srv, func(idp *IdentityProvider) {
		idp.OnRefreshError = func(err error) {
			if strings.Contains(err.Error(), srv.URL) && strings.Contains(err.Error(), "503") {
				reported.Add(1)
			}
		}
	})
	require.EqualValues(t, 1, reported.Load(), "a provider that cannot be reached at start is reported, not refused")

	// Once it answers, the first token (an unknown kid) brings its keys.
	srv.fails.Store(false)
	_, err := k.Verify(signToken(t, jwt.SigningMethodRS256, key, "k1", idpClaims()))
	require.NoError(t, err)
}

func TestIdentityProviderFromEnv(t *testing.T) {
	for _, name := range []string{OIDCJWKSURLEnv, OIDCIssuerEnv, OIDCAudienceEnv, OIDCRolesClaimEnv, OIDCGroupsClaimEnv, OIDCAlgorithmsEnv} {
		t.Setenv(name, "")
		t.Setenv(name+"_FILE", "")
	}
	idp, err := IdentityProviderFromEnv()
	require.NoError(t, err)
	require.Nil(t, idp, "no JWKS URL: no identity provider")
	k := testKeys(t, strings.Repeat("s", 32))
	trusted, err := k.TrustIssuerFromEnv(t.Context(), nil)
	require.NoError(t, err)
	require.Nil(t, trusted)

	t.Setenv(OIDCIssuerEnv, testIssuer)
	_, err = IdentityProviderFromEnv()
	require.ErrorContains(t, err, "FIELDFLOW_OIDC_ISSUER is set but FIELDFLOW_OIDC_JWKS_URL is not")

	srv := newJWKSServer(t)
	file := filepath.Join(t.TempDir(), "url")
	require.NoError(t, os.WriteFile(file, []byte(srv.URL+"\n"), 0o600))
	t.Setenv(OIDCJWKSURLEnv+"_FILE", file)
	t.Setenv(OIDCAudienceEnv, "fieldflow-api")
	t.Setenv(OIDCRolesClaimEnv, "realm_access.roles")
	t.Setenv(OIDCAlgorithmsEnv, "RS256, ES256")
	idp, err = IdentityProviderFromEnv()
	require.NoError(t, err)
	require.Equal(t, &IdentityProvider{JWKSURL: srv.URL, Issuer: testIssuer, Audience: "fieldflow-api",
		RolesClaim: "realm_access.roles", Algorithms: []string{"RS256", "ES256"}}, idp)
	trusted, err = k.TrustIssuerFromEnv(t.Context(), nil)
	require.NoError(t, err)
	require.NotNil(t, trusted)
	require.Equal(t, testIssuer, trusted.Issuer)

	t.Setenv(OIDCIssuerEnv, "")
	_, err = k.TrustIssuerFromEnv(t.Context(), nil)
	require.ErrorContains(t, err, "needs its issuer")
}
