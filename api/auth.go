package api

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/store"
)

const principalKey = "principal"

// authenticate verifies the bearer token and stores the caller's principal.
func (s *Server) authenticate(c *gin.Context) {
	h := c.GetHeader("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if h == "" {
		_ = c.Error(unauthorized("send Authorization: Bearer <token>"))
		c.Abort()
		return
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		_ = c.Error(unauthorized("the Authorization header must be \"Bearer <token>\""))
		c.Abort()
		return
	}
	token = strings.TrimSpace(token)
	var p auth.Principal
	if strings.HasPrefix(token, store.APITokenPrefix) {
		// Another system's API token: looked up by its hash, refused once revoked.
		var ok bool
		var err error
		if p, ok, err = s.apiTokenPrincipal(c.Request.Context(), token); err != nil || !ok {
			if err != nil {
				_ = c.Error(err)
			} else {
				_ = c.Error(unauthorized("the API token is unknown or revoked"))
			}
			c.Abort()
			return
		}
	} else {
		var err error
		if p, err = s.cfg.Keys.Verify(token); err != nil {
			_ = c.Error(unauthorized("the token is invalid or expired"))
			c.Abort()
			return
		}
	}
	c.Set(principalKey, p)
	c.Next()
}

// requireRole lets the request through when the caller has one of the roles.
func requireRole(roles ...auth.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, ok := principalOf(c)
		if !ok || !p.HasAnyRole(roles...) {
			_ = c.Error(forbidden("this needs one of the roles: " + joinRoles(roles)))
			c.Abort()
			return
		}
		c.Next()
	}
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
