package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/gin-gonic/gin"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// apiTokenStore keeps integrations' API tokens (implemented by *store.Store).
type apiTokenStore interface {
	CreateAPIToken(ctx context.Context, name string, roles, groups []string, createdBy string) (store.APIToken, string, error)
	LookupAPIToken(ctx context.Context, token string) (string, []string, []string, error)
	ListAPITokens(ctx context.Context) ([]store.APIToken, error)
	RevokeAPIToken(ctx context.Context, id string) error
}

// apiTokenRoutes: admins create, list and revoke the API tokens of other systems.
func (s *Server) apiTokenRoutes(v1 *gin.RouterGroup) {
	v1.POST("/api-tokens", s.createAPIToken)
	v1.GET("/api-tokens", s.listAPITokens)
	v1.DELETE("/api-tokens/:id", s.revokeAPIToken)
}

func (s *Server) apiTokens() (apiTokenStore, error) {
	ts, ok := s.cfg.Store.(apiTokenStore)
	if !ok {
		return nil, newProblem(http.StatusNotImplemented, "not-implemented", "Not implemented", "this store keeps no API tokens")
	}
	return ts, nil
}

type apiTokenBody struct {
	Name   string   `json:"name"`
	Roles  []string `json:"roles"`
	Groups []string `json:"groups"`
}

var tokenName = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)

// createAPIToken answers 201 with the token — shown this once; only its hash is kept.
func (s *Server) createAPIToken(c *gin.Context) {
	var body apiTokenBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	var fields []process.FieldError
	if !tokenName.MatchString(body.Name) {
		fields = append(fields, process.FieldError{Field: "name", Message: "lowercase letters, digits and dashes, 2 to 63, starting with a letter: it names the caller in every record it touches"})
	}
	if len(body.Roles) == 0 {
		fields = append(fields, process.FieldError{Field: "roles", Message: "give at least one role, e.g. integration"})
	}
	for i, r := range body.Roles {
		if !slices.Contains(auth.Roles, auth.Role(r)) {
			fields = append(fields, process.FieldError{Field: fmt.Sprintf("roles[%d]", i), Message: fmt.Sprintf("%q is not a role (%s)", r, joinRoles(auth.Roles))})
		}
		if auth.Role(r) == auth.RoleAdmin {
			fields = append(fields, process.FieldError{Field: fmt.Sprintf("roles[%d]", i), Message: "API tokens cannot be admins"})
		}
	}
	if len(fields) > 0 {
		_ = c.Error(invalidFields(fields...))
		return
	}
	ts, err := s.apiTokens()
	if err != nil {
		_ = c.Error(err)
		return
	}
	p, _ := principalOf(c)
	tok, secret, err := ts.CreateAPIToken(c.Request.Context(), body.Name, body.Roles, body.Groups, p.Subject)
	if errors.Is(err, store.ErrNameTaken) {
		_ = c.Error(newProblem(http.StatusConflict, "name-taken", "Name taken", fmt.Sprintf("an API token named %q exists (or existed)", body.Name)))
		return
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Location", "/v1/api-tokens/"+tok.ID)
	writeJSON(c, http.StatusCreated, gin.H{"id": tok.ID, "name": tok.Name, "roles": tok.Roles, "groups": tok.Groups, "token": secret,
		"note": "this is the only time the token is shown; send it as Authorization: Bearer <token>"})
}

func (s *Server) listAPITokens(c *gin.Context) {
	ts, err := s.apiTokens()
	if err != nil {
		_ = c.Error(err)
		return
	}
	items, err := ts.ListAPITokens(c.Request.Context())
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"items": items})
}

func (s *Server) revokeAPIToken(c *gin.Context) {
	ts, err := s.apiTokens()
	if err != nil {
		_ = c.Error(err)
		return
	}
	if err := ts.RevokeAPIToken(c.Request.Context(), c.Param("id")); err != nil {
		_ = c.Error(err)
		return
	}
	c.Status(http.StatusNoContent)
}

// apiTokenPrincipal is the caller behind an API token; ok is false when token is none.
func (s *Server) apiTokenPrincipal(ctx context.Context, token string) (auth.Principal, bool, error) {
	ts, err := s.apiTokens()
	if err != nil {
		return auth.Principal{}, false, nil
	}
	name, roles, groups, err := ts.LookupAPIToken(ctx, token)
	if errors.Is(err, store.ErrNotFound) {
		return auth.Principal{}, false, nil
	}
	if err != nil {
		return auth.Principal{}, false, err
	}
	p := auth.Principal{Subject: name, Groups: groups}
	for _, r := range roles {
		p.Roles = append(p.Roles, auth.Role(r))
	}
	return p, true, nil
}
