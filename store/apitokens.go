package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

// APITokenPrefix starts every API token, so the API tells them from staff JWTs at a glance.
const APITokenPrefix = "ffk_"

// ErrNameTaken means an API token with this name exists (revoked ones included: names identify
// the caller in every record it touches, so they are never reused).
var ErrNameTaken = errors.New("store: the name is taken")

// APIToken is an integration's token as admins see it: never the secret.
type APIToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Roles      []string   `json:"roles"`
	Groups     []string   `json:"groups"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty"`
	LastUsedAt *time.Time `json:"lastUsedAt,omitempty"`
}

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// CreateAPIToken makes a token for name with the roles and groups; the secret is returned once and
// only its hash is kept.
func (s *Store) CreateAPIToken(ctx context.Context, name string, roles, groups []string, createdBy string) (APIToken, string, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return APIToken{}, "", err
	}
	secret := APITokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	id := uuid.Must(uuid.NewV7()).String()
	n, err := s.q.InsertAPIToken(ctx, db.InsertAPITokenParams{ID: id, Name: name, Hash: hashToken(secret),
		Roles: nonNilStrings(roles), Groups: nonNilStrings(groups), CreatedBy: createdBy})
	if err != nil {
		return APIToken{}, "", fmt.Errorf("store: create API token %s: %w", name, err)
	}
	if n == 0 {
		return APIToken{}, "", ErrNameTaken
	}
	return APIToken{ID: id, Name: name, Roles: nonNilStrings(roles), Groups: nonNilStrings(groups), CreatedBy: createdBy, CreatedAt: time.Now().UTC()}, secret, nil
}

// LookupAPIToken returns the name, roles and groups of a live token; ErrNotFound for an unknown
// or revoked one.
func (s *Store) LookupAPIToken(ctx context.Context, token string) (name string, roles, groups []string, err error) {
	if !strings.HasPrefix(token, APITokenPrefix) {
		return "", nil, nil, ErrNotFound
	}
	h := hashToken(token)
	row, err := s.q.GetLiveAPIToken(ctx, h)
	if err != nil {
		return "", nil, nil, fmt.Errorf("store: API token: %w", interpret(err))
	}
	// One read per request; the last use is written at most once a minute, to spare writes.
	if row.LastUsedAt == nil || time.Since(*row.LastUsedAt) > time.Minute {
		if err := s.q.TouchAPIToken(ctx, h); err != nil {
			return "", nil, nil, fmt.Errorf("store: API token: %w", err)
		}
	}
	return row.Name, row.Roles, row.Groups, nil
}

// ListAPITokens lists every token, revoked ones too.
func (s *Store) ListAPITokens(ctx context.Context) ([]APIToken, error) {
	rows, err := s.q.ListAPITokens(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: list API tokens: %w", err)
	}
	out := make([]APIToken, len(rows))
	for i, r := range rows {
		out[i] = APIToken{ID: r.ID, Name: r.Name, Roles: r.Roles, Groups: r.Groups, CreatedBy: r.CreatedBy,
			CreatedAt: r.CreatedAt, RevokedAt: r.RevokedAt, LastUsedAt: r.LastUsedAt}
	}
	return out, nil
}

// RevokeAPIToken revokes a token at once; ErrNotFound when there is no live token with the id.
func (s *Store) RevokeAPIToken(ctx context.Context, id string) error {
	if !isUUID(id) {
		return ErrNotFound
	}
	n, err := s.q.RevokeAPIToken(ctx, id)
	if err != nil {
		return fmt.Errorf("store: revoke API token %s: %w", id, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}
