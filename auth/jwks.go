package auth

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/fieldflow/fieldflow/internal/env"
)

// IdentityProvider is a company identity provider (Keycloak, Entra ID, Auth0, …) whose tokens are
// accepted as staff tokens: they are signed with one of the public keys it publishes as a JWKS.
type IdentityProvider struct {
	// JWKSURL is where the provider publishes its public keys (a JWK Set).
	JWKSURL string
	// Issuer is the exact `iss` of its tokens; it tells them from Fieldflow's own tokens.
	Issuer string
	// Audience, when set, must be one of the token's `aud` values.
	Audience string
	// RolesClaim and GroupsClaim name the claims that carry the roles and the groups; a dotted
	// path reaches into objects (Keycloak's realm_access.roles). Defaults: roles and groups.
	RolesClaim  string
	GroupsClaim string
	// Algorithms are the accepted signature algorithms (RS256 when empty); only asymmetric ones
	// (RS*, PS*, ES*) may be named.
	Algorithms []string
	// RefreshInterval is how often the key set is fetched again (default 30 minutes).
	RefreshInterval time.Duration
	// UnknownKeyRefresh is the least time between two fetches caused by a token whose key is not
	// in the set (default 30 seconds), so unknown key IDs cannot make Fieldflow hammer the
	// provider.
	UnknownKeyRefresh time.Duration
	// Client fetches the key set (default: a client with a 10 second timeout).
	Client *http.Client
	// OnRefreshError is told when fetching the key set fails (default: a warning on slog).
	OnRefreshError func(error)
}

// The environment variables that configure an identity provider.
const (
	OIDCJWKSURLEnv     = "FIELDFLOW_OIDC_JWKS_URL"
	OIDCIssuerEnv      = "FIELDFLOW_OIDC_ISSUER"
	OIDCAudienceEnv    = "FIELDFLOW_OIDC_AUDIENCE"
	OIDCRolesClaimEnv  = "FIELDFLOW_OIDC_ROLES_CLAIM"
	OIDCGroupsClaimEnv = "FIELDFLOW_OIDC_GROUPS_CLAIM"
	OIDCAlgorithmsEnv  = "FIELDFLOW_OIDC_ALGORITHMS"
)

// leeway is the clock skew tolerated on exp, nbf and iat.
const leeway = 30 * time.Second

// asymmetricAlgs are the algorithms an identity provider may be trusted with: never none, never
// HMAC (which would let anyone who has the public key sign).
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}

// IdentityProviderFromEnv reads the FIELDFLOW_OIDC_* variables (each may come from NAME_FILE). It
// returns nil when FIELDFLOW_OIDC_JWKS_URL is unset, and an error when the others are set without
// it.
func IdentityProviderFromEnv() (*IdentityProvider, error) {
	vals := map[string]string{}
	for _, name := range []string{OIDCJWKSURLEnv, OIDCIssuerEnv, OIDCAudienceEnv, OIDCRolesClaimEnv, OIDCGroupsClaimEnv, OIDCAlgorithmsEnv} {
		v, err := env.Get(name)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		vals[name] = strings.TrimSpace(v)
	}
	if vals[OIDCJWKSURLEnv] == "" {
		for name, v := range vals {
			if v != "" {
				return nil, fmt.Errorf("auth: %s is set but %s is not: an identity provider needs the URL of its keys", name, OIDCJWKSURLEnv)
			}
		}
		return nil, nil
	}
	idp := &IdentityProvider{
		JWKSURL:     vals[OIDCJWKSURLEnv],
		Issuer:      vals[OIDCIssuerEnv],
		Audience:    vals[OIDCAudienceEnv],
		RolesClaim:  vals[OIDCRolesClaimEnv],
		GroupsClaim: vals[OIDCGroupsClaimEnv],
	}
	for _, a := range strings.Split(vals[OIDCAlgorithmsEnv], ",") {
		if a = strings.TrimSpace(a); a != "" {
			idp.Algorithms = append(idp.Algorithms, a)
		}
	}
	return idp, nil
}

// TrustIssuerFromEnv trusts the identity provider configured in the environment, if any, and
// returns it (nil when none is configured). onRefreshError may be nil.
func (k *Keys) TrustIssuerFromEnv(ctx context.Context, onRefreshError func(error)) (*IdentityProvider, error) {
	idp, err := IdentityProviderFromEnv()
	if err != nil || idp == nil {
		return nil, err
	}
	idp.OnRefreshError = onRefreshError
	if err := k.TrustIssuer(ctx, *idp); err != nil {
		return nil, err
	}
	return idp, nil
}

// provider verifies the tokens of one trusted identity provider.
type provider struct {
	ctx         context.Context
	issuer      string
	audience    string
	rolesClaim  string
	groupsClaim string
	algs        []string
	keys        jwkset.Storage
}

// TrustIssuer makes Verify accept tokens whose `iss` is idp.Issuer, checked against the keys idp
// publishes. It fetches them once now (a provider that cannot be reached yet is reported to
// OnRefreshError, not refused), then every RefreshInterval and when a token names an unknown key,
// until ctx ends. Call it before the Keys are used.
func (k *Keys) TrustIssuer(ctx context.Context, idp IdentityProvider) error {
	u, err := url.Parse(idp.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("auth: %s %q is not an http(s) URL", OIDCJWKSURLEnv, idp.JWKSURL)
	}
	switch idp.Issuer {
	case "":
		return fmt.Errorf("auth: an identity provider needs its issuer (%s), the exact iss of its tokens", OIDCIssuerEnv)
	case Issuer:
		return fmt.Errorf("auth: the identity provider's issuer cannot be %q: that is Fieldflow's own", Issuer)
	}
	if _, dup := k.providers[idp.Issuer]; dup {
		return fmt.Errorf("auth: issuer %q is already trusted", idp.Issuer)
	}
	algs := idp.Algorithms
	if len(algs) == 0 {
		algs = []string{jwt.SigningMethodRS256.Alg()}
	}
	for _, a := range algs {
		if !slices.Contains(asymmetricAlgs, a) {
			return fmt.Errorf("auth: algorithm %q cannot be trusted for an identity provider (allowed: %s)", a, strings.Join(asymmetricAlgs, ", "))
		}
	}
	p := &provider{
		ctx:         ctx,
		issuer:      idp.Issuer,
		audience:    idp.Audience,
		rolesClaim:  cmp.Or(idp.RolesClaim, "roles"),
		groupsClaim: cmp.Or(idp.GroupsClaim, "groups"),
		algs:        slices.Clone(algs),
	}
	client := idp.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	onErr := idp.OnRefreshError
	if onErr == nil {
		onErr = func(err error) {
			slog.Default().Warn("auth: fetch the identity provider's keys", "url", idp.JWKSURL, "error", err)
		}
	}
	refresh := idp.RefreshInterval
	if refresh <= 0 {
		refresh = 30 * time.Minute
	}
	unknown := idp.UnknownKeyRefresh
	if unknown <= 0 {
		unknown = 30 * time.Second
	}
	remote, err := jwkset.NewStorageFromHTTP(idp.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:                    client,
		Ctx:                       ctx,
		HTTPTimeout:               10 * time.Second,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler: func(_ context.Context, err error) {
			onErr(fmt.Errorf("auth: fetch %s: %w", idp.JWKSURL, err))
		},
		RefreshInterval: refresh,
	})
	if err != nil {
		return fmt.Errorf("auth: identity provider keys at %s: %w", idp.JWKSURL, err)
	}
	// An unknown kid refetches the set at most once per `unknown`; a token that comes while the
	// limiter is closed waits at most 10 seconds (the bound covers the fetch too), else it is refused.
	p.keys, err = jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs:          map[string]jwkset.Storage{idp.JWKSURL: remote},
		RateLimitWaitMax:  10 * time.Second,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(unknown), 1),
	})
	if err != nil {
		return fmt.Errorf("auth: identity provider keys at %s: %w", idp.JWKSURL, err)
	}
	if k.providers == nil {
		k.providers = map[string]*provider{}
	}
	k.providers[idp.Issuer] = p
	return nil
}

// providerFor returns the trusted provider that token claims to come from, or nil when it claims
// to be one of Fieldflow's own. The claim is not yet verified: it only picks which keys and rules
// verify the token. A token that is neither is refused here with its issuer named, since a
// mistyped issuer is the likeliest misconfiguration.
func (k *Keys) providerFor(token string) (*provider, error) {
	if len(k.providers) == 0 {
		return nil, nil
	}
	var c jwt.RegisteredClaims
	t, _, err := jwt.NewParser().ParseUnverified(token, &c)
	if err != nil {
		return nil, nil // the HS256 path refuses it with today's message
	}
	if p := k.providers[c.Issuer]; p != nil {
		return p, nil
	}
	if c.Issuer != Issuer && t.Method.Alg() != jwt.SigningMethodHS256.Alg() {
		trusted := []string{Issuer}
		for iss := range k.providers {
			trusted = append(trusted, iss)
		}
		slices.Sort(trusted)
		return nil, fmt.Errorf("auth: the token's issuer %q is not trusted (trusted: %s)", c.Issuer, strings.Join(trusted, ", "))
	}
	return nil, nil
}

// verify checks a provider's token: signature by the key its kid names, algorithm, issuer,
// audience, expiry and subject, and that it grants at least one Fieldflow role.
func (p *provider) verify(token string) (Principal, error) {
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(p.algs),
		jwt.WithIssuer(p.issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
	}
	if p.audience != "" {
		opts = append(opts, jwt.WithAudience(p.audience))
	}
	c := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(token, c, p.key, opts...); err != nil {
		return Principal{}, fmt.Errorf("auth: token of %s: %w", p.issuer, err)
	}
	sub, _ := c["sub"].(string)
	if sub == "" {
		return Principal{}, fmt.Errorf("auth: the token of %s has no subject", p.issuer)
	}
	var roles []Role
	for _, r := range claimStrings(lookupClaim(c, p.rolesClaim)) {
		if role := Role(r); slices.Contains(Roles, role) && !slices.Contains(roles, role) {
			roles = append(roles, role)
		}
	}
	if len(roles) == 0 {
		return Principal{}, fmt.Errorf("auth: the token of %s for %q grants no Fieldflow role in its claim %q (known: %s)",
			p.issuer, sub, p.rolesClaim, joinRoles(Roles))
	}
	return Principal{Subject: sub, Roles: roles, Groups: claimStrings(lookupClaim(c, p.groupsClaim))}, nil
}

// key returns the public key the token's kid names, if it fits the token's algorithm.
func (p *provider) key(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("the token names no key (kid)")
	}
	jwk, err := p.keys.KeyRead(p.ctx, kid)
	if err != nil {
		if errors.Is(err, jwkset.ErrKeyNotFound) {
			return nil, fmt.Errorf("no key %q in the identity provider's key set", kid)
		}
		// Mostly the rate limit of refetches on unknown keys.
		return nil, fmt.Errorf("no key %q in the identity provider's key set (not refetched now: %w)", kid, err)
	}
	m := jwk.Marshal()
	alg := t.Method.Alg()
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, fmt.Errorf("key %q is not a signing key (use %q)", kid, m.USE)
	}
	if m.ALG != "" && m.ALG.String() != alg {
		return nil, fmt.Errorf("key %q is for %s, the token says %s", kid, m.ALG, alg)
	}
	key := jwk.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public()
	}
	switch pub := key.(type) {
	case *rsa.PublicKey:
		if !strings.HasPrefix(alg, "RS") && !strings.HasPrefix(alg, "PS") {
			return nil, fmt.Errorf("key %q is an RSA key, the token says %s", kid, alg)
		}
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("key %q is a %d-bit RSA key, too short", kid, pub.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if !strings.HasPrefix(alg, "ES") {
			return nil, fmt.Errorf("key %q is an EC key, the token says %s", kid, alg)
		}
	default:
		return nil, fmt.Errorf("key %q has an unsupported type %T", kid, key)
	}
	return key, nil
}

// lookupClaim finds a claim by name or by a dotted path into nested objects. The whole name is
// tried first at every level, so names that contain dots themselves (Auth0's namespaced claims,
// https://example.com/roles) work too.
func lookupClaim(m map[string]any, path string) any {
	if v, ok := m[path]; ok {
		return v
	}
	for i := range len(path) {
		if path[i] != '.' {
			continue
		}
		if sub, ok := m[path[:i]].(map[string]any); ok {
			if v := lookupClaim(sub, path[i+1:]); v != nil {
				return v
			}
		}
	}
	return nil
}

// claimStrings reads a claim as a list of strings: a JSON array of strings, or one string that
// separates its values by spaces or commas. Anything else reads as nothing.
func claimStrings(v any) []string {
	var out []string
	switch v := v.(type) {
	case string:
		out = strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
