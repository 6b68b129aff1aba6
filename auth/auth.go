// Package auth issues and verifies the bearer tokens of staff (JWT, HS256) and keeps the signing
// secret of a development data directory. It can also accept the tokens of a company identity
// provider, signed with the keys it publishes (RS256 or ES256 via JWKS, see TrustIssuer).
package auth

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fieldflow/fieldflow/internal/env"
)

// Role is a staff role carried in a token.
type Role string

// The staff roles.
const (
	RoleAdmin      Role = "admin"
	RoleDesigner   Role = "designer"
	RoleSupervisor Role = "supervisor"
	RoleAgent      Role = "agent"
	RoleDispatcher Role = "dispatcher"
	RoleEngineer   Role = "engineer"
	RoleFollowUp   Role = "followup"
	// RoleIntegration is another system: it pushes work orders (channel api) and reads them back,
	// and nothing else.
	RoleIntegration Role = "integration"
)

// StaffRoles are the roles of people.
var StaffRoles = []Role{RoleAdmin, RoleDesigner, RoleSupervisor, RoleAgent, RoleDispatcher, RoleEngineer, RoleFollowUp}

// Roles lists every known role.
var Roles = append(slices.Clone(StaffRoles), RoleIntegration)

// Principal is who is calling: the verified content of a token.
type Principal struct {
	Subject string
	Roles   []Role
	Groups  []string
}

// HasAnyRole reports whether p has one of the roles.
func (p Principal) HasAnyRole(roles ...Role) bool {
	return slices.ContainsFunc(p.Roles, func(r Role) bool { return slices.Contains(roles, r) })
}

// claims is the JWT body.
type claims struct {
	Roles  []Role   `json:"roles"`
	Groups []string `json:"groups,omitempty"`
	jwt.RegisteredClaims
}

// Issuer is the only audience and issuer Fieldflow puts in its tokens.
const Issuer = "fieldflow"

// Keys signs and verifies tokens with one shared secret, and verifies those of the identity
// providers it trusts.
type Keys struct {
	secret    []byte
	providers map[string]*provider // by issuer
}

// NewKeys uses secret (at least 32 bytes) to sign and verify tokens.
func NewKeys(secret []byte) (*Keys, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("auth: the JWT secret must be at least 32 bytes, it has %d", len(secret))
	}
	return &Keys{secret: secret}, nil
}

// Issue signs a token for p that expires after ttl.
func (k *Keys) Issue(p Principal, ttl time.Duration, now time.Time) (string, error) {
	if p.Subject == "" {
		return "", errors.New("auth: a token needs a subject")
	}
	for _, r := range p.Roles {
		if !slices.Contains(Roles, r) {
			return "", fmt.Errorf("auth: unknown role %q (known: %s)", r, joinRoles(Roles))
		}
	}
	c := claims{
		Roles:  p.Roles,
		Groups: p.Groups,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   p.Subject,
			Issuer:    Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
}

// Verify checks a token's signature, algorithm, issuer and expiry and returns its principal. A
// token whose issuer is a trusted identity provider is checked against that provider's keys and
// rules; every other token must be one of Fieldflow's own (HS256, issuer fieldflow).
func (k *Keys) Verify(token string) (Principal, error) {
	if p, err := k.providerFor(token); err != nil || p != nil {
		if err != nil {
			return Principal{}, err
		}
		return p.verify(token)
	}
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return k.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	)
	if err != nil {
		return Principal{}, fmt.Errorf("auth: %w", err)
	}
	if c.Subject == "" {
		return Principal{}, errors.New("auth: the token has no subject")
	}
	if len(c.Audience) > 0 {
		return Principal{}, errors.New("auth: a link token is not a staff token")
	}
	return Principal{Subject: c.Subject, Roles: c.Roles, Groups: c.Groups}, nil
}

// SecretEnv is the environment variable that holds the signing secret.
const SecretEnv = "FIELDFLOW_JWT_SECRET"

// secretFile is where a data directory keeps its generated secret.
const secretFile = "jwt-secret"

// LoadSecret returns the signing secret: FIELDFLOW_JWT_SECRET when it is set, otherwise the secret
// kept in dataDir, which is generated on first use when create is true. This is how `fieldflow dev`
// and `fieldflow token` agree on a secret without any configuration.
func LoadSecret(dataDir string, create bool) ([]byte, error) {
	s, err := env.Get(SecretEnv)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	if s != "" {
		return []byte(s), nil
	}
	path := filepath.Join(dataDir, secretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if !errors.Is(err, os.ErrNotExist) || !create {
		return nil, fmt.Errorf("auth: no %s and no secret in %s: %w", SecretEnv, path, err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := hex.EncodeToString(raw)
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadSecret(dataDir, false) // another process created it first
	}
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(secret + "\n"); err != nil {
		return nil, fmt.Errorf("auth: write %s: %w", path, err)
	}
	return []byte(secret), nil
}

// ParseRoles reads a comma-separated role list.
func ParseRoles(s string) ([]Role, error) {
	var roles []Role
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		if !slices.Contains(Roles, Role(r)) {
			return nil, fmt.Errorf("unknown role %q (known: %s)", r, joinRoles(Roles))
		}
		roles = append(roles, Role(r))
	}
	return roles, nil
}

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// LinkClaims is what a signed link (a contact's approval link) grants: one purpose, on one item of
// one record, until it expires.
type LinkClaims struct {
	Purpose  string
	RecordID string
	ItemID   string
}

type linkClaims struct {
	Item string `json:"item"`
	jwt.RegisteredClaims
}

// IssueLink signs a link token for a contact who has no login.
func (k *Keys) IssueLink(l LinkClaims, ttl time.Duration, now time.Time) (string, error) {
	if l.Purpose == "" || l.RecordID == "" || l.ItemID == "" {
		return "", errors.New("auth: a link needs a purpose, a record and an item")
	}
	c := linkClaims{Item: l.ItemID, RegisteredClaims: jwt.RegisteredClaims{
		Subject: l.RecordID, Issuer: Issuer, Audience: jwt.ClaimStrings{"link:" + l.Purpose},
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(k.secret)
}

// VerifyLink checks a link token for the purpose. Staff tokens are not links and links are not
// staff tokens: the audience tells them apart.
func (k *Keys) VerifyLink(token, purpose string) (LinkClaims, error) {
	var c linkClaims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return k.secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(Issuer), jwt.WithAudience("link:"+purpose), jwt.WithExpirationRequired(),
	)
	if err != nil {
		return LinkClaims{}, fmt.Errorf("auth: %w", err)
	}
	return LinkClaims{Purpose: purpose, RecordID: c.Subject, ItemID: c.Item}, nil
}

// ApprovalPath is where the page of an approval link is served; the token follows it.
const ApprovalPath = "/approve/"

// ApprovalLinkTTL is how long a contact's approval link works.
const ApprovalLinkTTL = 7 * 24 * time.Hour

// RatingPath is where the page of a rating invitation's link is served; the token follows it.
const RatingPath = "/rate/"

// RatingLinkTTL is how long a rating link works when its rating node does not close sooner.
const RatingLinkTTL = 14 * 24 * time.Hour

// RatingURL is the signed page under baseURL through which a work order's contact rates it, for
// one invitation; the link works until expires (RatingLinkTTL from now when expires is nil).
func (k *Keys) RatingURL(baseURL, orderID, invitation string, now time.Time, expires *time.Time) (string, time.Time, error) {
	until := now.Add(RatingLinkTTL)
	if expires != nil && expires.After(now) {
		until = *expires
	}
	token, err := k.IssueLink(LinkClaims{Purpose: "rating", RecordID: orderID, ItemID: invitation}, until.Sub(now), now)
	if err != nil {
		return "", time.Time{}, err
	}
	return strings.TrimSuffix(baseURL, "/") + RatingPath + token, until.UTC(), nil
}

// VerifyRatingLink reads a rating link's token: the work order and the invitation.
func (k *Keys) VerifyRatingLink(token string) (orderID, invitation string, err error) {
	l, err := k.VerifyLink(token, "rating")
	if err != nil {
		return "", "", err
	}
	return l.RecordID, l.ItemID, nil
}

// ApprovalURL is the signed page under baseURL through which a record's contact answers one of its
// approvals without a login, and when the link stops working.
func (k *Keys) ApprovalURL(baseURL, recordID, approvalID string, now time.Time) (string, time.Time, error) {
	token, err := k.IssueLink(LinkClaims{Purpose: "approval", RecordID: recordID, ItemID: approvalID}, ApprovalLinkTTL, now)
	if err != nil {
		return "", time.Time{}, err
	}
	return strings.TrimSuffix(baseURL, "/") + ApprovalPath + token, now.Add(ApprovalLinkTTL).UTC(), nil
}
