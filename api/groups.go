package api

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// groupStore keeps service groups and their members (implemented by *store.Store).
type groupStore interface {
	CreateGroup(ctx context.Context, g store.NewGroup) (store.Group, error)
	GetGroup(ctx context.Context, key string) (store.Group, error)
	ListGroups(ctx context.Context) ([]store.Group, error)
	UpdateGroup(ctx context.Context, key, title string) (store.Group, error)
	DeleteGroup(ctx context.Context, key string) error
	PutGroupMember(ctx context.Context, group, username string, active *bool) (store.GroupMember, bool, error)
	RemoveGroupMember(ctx context.Context, group, username string) error
}

// groupRoutes are the service-group endpoints: staff read them, dispatchers and supervisors
// manage them and their members.
func (s *Server) groupRoutes(v1 *gin.RouterGroup) {
	v1.GET("/groups", s.listGroups)
	v1.POST("/groups", s.createGroup)
	v1.GET("/groups/:key", s.getGroup)
	v1.PATCH("/groups/:key", s.patchGroup)
	v1.DELETE("/groups/:key", s.deleteGroup)
	v1.PUT("/groups/:key/members/:username", s.putGroupMember)
	v1.DELETE("/groups/:key/members/:username", s.removeGroupMember)
}

// groups returns the group store, or records a 501 problem when the configured store has none.
func (s *Server) groups(c *gin.Context) (groupStore, bool) {
	gs, ok := s.cfg.Store.(groupStore)
	if !ok {
		_ = c.Error(newProblem(http.StatusNotImplemented, "not-implemented", "Not implemented", "this server's store does not keep service groups"))
	}
	return gs, ok
}

var groupKeyPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

const (
	maxGroupKey   = 64
	maxGroupTitle = 200
	maxUsername   = 128
)

func checkGroupKey(key string) *process.FieldError {
	switch {
	case key == "":
		return &process.FieldError{Field: "key", Message: "is required"}
	case len(key) > maxGroupKey:
		return &process.FieldError{Field: "key", Message: "is longer than 64 characters"}
	case !groupKeyPattern.MatchString(key):
		return &process.FieldError{Field: "key", Message: "use lowercase letters, digits and single dashes between them (like central-field)"}
	}
	return nil
}

func checkGroupTitle(title string) *process.FieldError {
	if utf8.RuneCountInString(title) > maxGroupTitle {
		return &process.FieldError{Field: "title", Message: "is longer than 200 characters"}
	}
	if strings.ContainsFunc(title, unicode.IsControl) {
		return &process.FieldError{Field: "title", Message: "must not contain control characters"}
	}
	return nil
}

// createGroupBody is the body of POST /v1/groups.
type createGroupBody struct {
	Key   string `json:"key"`
	Title string `json:"title"`
}

func (s *Server) createGroup(c *gin.Context) {
	gs, ok := s.groups(c)
	if !ok {
		return
	}
	var body createGroupBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	body.Title = strings.TrimSpace(body.Title)
	var fields []process.FieldError
	for _, fe := range []*process.FieldError{checkGroupKey(body.Key), checkGroupTitle(body.Title)} {
		if fe != nil {
			fields = append(fields, *fe)
		}
	}
	if len(fields) > 0 {
		_ = c.Error(invalidFields(fields...))
		return
	}
	if body.Title == "" {
		body.Title = body.Key
	}
	p, _ := principalOf(c)
	g, err := gs.CreateGroup(c.Request.Context(), store.NewGroup{
		Key: body.Key, Title: body.Title, CreatedBy: p.Subject, CreateKey: c.GetHeader("Idempotency-Key"),
	})
	if errors.Is(err, store.ErrGroupExists) {
		_ = c.Error(newProblem(http.StatusConflict, "group-exists", "Group exists", "a group with the key "+body.Key+" exists already"))
		return
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	c.Header("Location", "/v1/groups/"+g.Key)
	writeJSON(c, http.StatusCreated, g)
}

func (s *Server) listGroups(c *gin.Context) {
	gs, ok := s.groups(c)
	if !ok {
		return
	}
	groups, err := gs.ListGroups(c.Request.Context())
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{"items": groups})
}

func (s *Server) getGroup(c *gin.Context) {
	gs, ok := s.groups(c)
	if !ok {
		return
	}
	g, err := gs.GetGroup(c.Request.Context(), c.Param("key"))
	if err != nil {
		_ = c.Error(groupNotFound(err, c.Param("key")))
		return
	}
	writeJSON(c, http.StatusOK, g)
}

// patchGroupBody is the body of PATCH /v1/groups/{key}.
type patchGroupBody struct {
	Title *string `json:"title"`
}

func (s *Server) patchGroup(c *gin.Context) {
	gs, ok := s.groups(c)
	if !ok {
		return
	}
	var body patchGroupBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	key := c.Param("key")
	if body.Title == nil {
		g, err := gs.GetGroup(c.Request.Context(), key)
		if err != nil {
			_ = c.Error(groupNotFound(err, key))
			return
		}
		writeJSON(c, http.StatusOK, g)
		return
	}
	title := strings.TrimSpace(*body.Title)
	if title == "" {
		_ = c.Error(invalidFields(process.FieldError{Field: "title", Message: "must not be empty"}))
		return
	}
	if fe := checkGroupTitle(title); fe != nil {
		_ = c.Error(invalidFields(*fe))
		return
	}
	g, err := gs.UpdateGroup(c.Request.Context(), key, title)
	if err != nil {
		_ = c.Error(groupNotFound(err, key))
		return
	}
	writeJSON(c, http.StatusOK, g)
}

func (s *Server) deleteGroup(c *gin.Context) {
	gs, ok := s.groups(c)
	if !ok {
		return
	}
	if err := gs.DeleteGroup(c.Request.Context(), c.Param("key")); err != nil {
		_ = c.Error(groupNotFound(err, c.Param("key")))
		return
	}
	c.Status(http.StatusNoContent)
}

// putMemberBody is the body of PUT /v1/groups/{key}/members/{username}; it may be empty.
type putMemberBody struct {
	Active *bool `json:"active"`
}

func (s *Server) putGroupMember(c *gin.Context) {
	gs, ok := s.groups(c)
	if !ok {
		return
	}
	var body putMemberBody
	if err := bindOptionalJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	key, username := c.Param("key"), c.Param("username")
	if fe := checkUsername(username); fe != nil {
		_ = c.Error(invalidFields(*fe))
		return
	}
	m, created, err := gs.PutGroupMember(c.Request.Context(), key, username, body.Active)
	if err != nil {
		_ = c.Error(groupNotFound(err, key))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Header("Location", "/v1/groups/"+key+"/members/"+username)
	}
	writeJSON(c, status, m)
}

func (s *Server) removeGroupMember(c *gin.Context) {
	gs, ok := s.groups(c)
	if !ok {
		return
	}
	key, username := c.Param("key"), c.Param("username")
	if err := gs.RemoveGroupMember(c.Request.Context(), key, username); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			_ = c.Error(notFound(username + " is not a member of the group " + key))
			return
		}
		_ = c.Error(err)
		return
	}
	c.Status(http.StatusNoContent)
}

// checkUsername accepts the user names tokens carry: letters, digits and . _ @ + -.
func checkUsername(name string) *process.FieldError {
	if name == "" || len(name) > maxUsername {
		return &process.FieldError{Field: "username", Message: "must have 1 to 128 characters"}
	}
	for _, r := range name {
		if !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("._@+-", r)) {
			return &process.FieldError{Field: "username", Message: "use letters, digits and . _ @ + - only"}
		}
	}
	return nil
}

// groupNotFound names the group in a not-found answer; other errors pass through.
func groupNotFound(err error, key string) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound("there is no group " + key)
	}
	return err
}
