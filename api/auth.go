package api

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/store"
)

const principalKey = "principal"

// authenticate verifies the bearer token: a staff JWT or another system's API token.
func (s *Server) authenticate(c *gin.Context) (auth.Principal, error) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		return auth.Principal{}, unauthorized("send Authorization: Bearer <token>")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return auth.Principal{}, unauthorized("the Authorization header must be \"Bearer <token>\"")
	}
	token = strings.TrimSpace(token)
	if strings.HasPrefix(token, store.APITokenPrefix) {
		// Another system's API token: looked up by its hash, refused once revoked.
		p, ok, err := s.apiTokenPrincipal(c.Request.Context(), token)
		if err != nil {
			return p, err
		}
		if !ok {
			return p, unauthorized("the API token is unknown or revoked")
		}
		return p, nil
	}
	p, err := s.cfg.Keys.Verify(token)
	if err != nil {
		return p, unauthorized("the token is invalid or expired")
	}
	return p, nil
}

func principalOf(c *gin.Context) (auth.Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return auth.Principal{}, false
	}
	p, ok := v.(auth.Principal)
	return p, ok
}

func joinRoles(roles []auth.Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
