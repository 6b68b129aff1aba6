package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"
	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
)

// Publisher stores definition versions and makes them current.
type Publisher interface {
	PublishCatalog(ctx context.Context, c *process.Catalog) error
}

// Registry holds the current definitions, loaded from a folder. Reload publishes an edited folder
// without a restart: new runs use the new versions, running ones keep theirs. A folder with
// mistakes is refused and the last good definitions stay in use.
type Registry struct {
	dir       string
	publisher Publisher
	log       *zap.Logger

	mu      sync.RWMutex
	current *process.Catalog
}

// NewRegistry loads dir and publishes it; it fails when the folder has a mistake, so a service
// never starts with a malformed definition.
func NewRegistry(ctx context.Context, dir string, publisher Publisher, log *zap.Logger) (*Registry, error) {
	r := &Registry{dir: dir, publisher: publisher, log: log}
	if _, err := r.Reload(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Current is the catalog new runs use.
func (r *Registry) Current() *process.Catalog {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.current
}

// Queue finds the current definition of a queue.
func (r *Registry) Queue(key string) (*process.Queue, bool) { return r.Current().Queue(key) }

// Reload loads the folder again. On success the new catalog is published and current; on failure
// (process.Problems for mistakes in the definitions) nothing changes.
func (r *Registry) Reload(ctx context.Context) (*process.Catalog, error) {
	c, err := process.LoadDir(r.dir)
	if err != nil {
		return nil, err
	}
	if err := r.publisher.PublishCatalog(ctx, c); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.current = c
	r.mu.Unlock()
	if r.log != nil {
		r.log.Info("definitions loaded", zap.String("dir", r.dir), zap.Int("definitions", len(c.Sources())))
	}
	return c, nil
}

// definitionView is one definition in GET /v1/definitions.
type definitionView struct {
	Key     string       `json:"key"`
	Kind    process.Kind `json:"kind"`
	Title   string       `json:"title,omitempty"`
	Version string       `json:"version"`
	File    string       `json:"file"`
}

func definitionViews(c *process.Catalog) []definitionView {
	var out []definitionView
	for _, src := range c.Sources() {
		v := definitionView{Key: src.Key, Kind: src.Kind, Version: src.Version, File: src.File}
		if def, ok := c.Definition(src.Key); ok && (src.Kind == process.KindServiceRequestQueue || src.Kind == process.KindWorkOrderType) {
			switch d := def.(type) {
			case *process.Queue:
				v.Title = d.Title
			case *process.WorkOrderType:
				v.Title = d.Title
			}
		}
		out = append(out, v)
	}
	return out
}

func (s *Server) listDefinitions(c *gin.Context) {
	writeJSON(c, http.StatusOK, gin.H{"items": definitionViews(s.cfg.Registry.Current())})
}

// getDefinition answers a definition's current version, its source and every stored version.
func (s *Server) getDefinition(c *gin.Context) {
	key := c.Param("key")
	cat := s.cfg.Registry.Current()
	def, ok := cat.Definition(key)
	if !ok {
		_ = c.Error(notFound(fmt.Sprintf("no queue or work-order type %q", key)))
		return
	}
	kind := process.KindServiceRequestQueue
	if _, isWO := def.(*process.WorkOrderType); isWO {
		kind = process.KindWorkOrderType
	}
	src, _ := cat.Source(kind, key)
	versions, err := s.cfg.Store.ListDefinitionVersions(c.Request.Context(), key)
	if err != nil {
		_ = c.Error(err)
		return
	}
	writeJSON(c, http.StatusOK, gin.H{
		"key": key, "kind": kind, "version": src.Version, "file": src.File, "source": src.Text,
		"definition": def, "versions": versions,
	})
}

// validateDefinition checks one YAML file (the body) together with the current definitions, as if
// it replaced the file defining the same kind and key.
func (s *Server) validateDefinition(c *gin.Context) {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes))
	if err != nil {
		_ = c.Error(badRequest("the body is too large or unreadable"))
		return
	}
	if len(strings.TrimSpace(string(raw))) == 0 {
		_ = c.Error(badRequest("send the YAML of one definition as the body"))
		return
	}
	name := c.Query("file")
	if name == "" {
		name = "definition.yaml"
	}
	var head struct {
		Kind process.Kind `yaml:"kind"`
		Key  string       `yaml:"key"`
	}
	_ = yaml.Unmarshal(raw, &head)
	files := map[string][]byte{}
	cat := s.cfg.Registry.Current()
	for _, src := range cat.Sources() {
		sameKey := src.Key == head.Key && (src.Kind == head.Kind ||
			(isProcess(src.Kind) && isProcess(head.Kind)) || (isTemplate(src.Kind) && isTemplate(head.Kind)))
		if sameKey || src.File == name {
			continue
		}
		files[src.File] = []byte(src.Text)
	}
	files[name] = raw
	checked, err := process.Load(files)
	if err != nil {
		_ = c.Error(definitionProblem(err, "Invalid definition", ""))
		return
	}
	result := gin.H{"valid": true, "file": name}
	if src, ok := checked.Source(head.Kind, head.Key); ok {
		result["kind"], result["key"], result["version"] = src.Kind, src.Key, src.Version
	}
	writeJSON(c, http.StatusOK, result)
}

func isProcess(k process.Kind) bool {
	return k == process.KindServiceRequestQueue || k == process.KindWorkOrderType
}

func isTemplate(k process.Kind) bool {
	return k == process.KindMessageTemplate || k == process.KindRatingTemplate
}

// reloadDefinitions publishes the definitions folder as it is now.
func (s *Server) reloadDefinitions(c *gin.Context) {
	before := map[string]string{}
	for _, v := range definitionViews(s.cfg.Registry.Current()) {
		before[string(v.Kind)+"/"+v.Key] = v.Version
	}
	cat, err := s.cfg.Registry.Reload(c.Request.Context())
	if err != nil {
		_ = c.Error(definitionProblem(err, "Invalid definitions", "; the definitions in use are unchanged"))
		return
	}
	var changed []definitionView
	for _, v := range definitionViews(cat) {
		if before[string(v.Kind)+"/"+v.Key] != v.Version {
			changed = append(changed, v)
		}
	}
	writeJSON(c, http.StatusOK, gin.H{"items": definitionViews(cat), "changed": nonNilViews(changed)})
}

func nonNilViews(v []definitionView) []definitionView {
	if v == nil {
		return []definitionView{}
	}
	return v
}

// migrateBody is the body of POST /v1/service-requests/{id}/migrate.
type migrateBody struct {
	Version string            `json:"version"`
	Stages  map[string]string `json:"stages"`
}

// migrateServiceRequest moves a running request onto another stored version of its queue.
func (s *Server) migrateServiceRequest(c *gin.Context) {
	var body migrateBody
	if err := bindJSON(c, &body); err != nil {
		_ = c.Error(err)
		return
	}
	if body.Version == "" {
		_ = c.Error(invalidFields(process.FieldError{Field: "version", Message: "is required"}))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.cfg.ActionTimeout)
	defer cancel()
	def, err := s.cfg.Store.GetDefinition(ctx, body.Version)
	if errors.Is(err, store.ErrNotFound) {
		_ = c.Error(invalidFields(process.FieldError{Field: "version", Message: fmt.Sprintf("no stored definition version %q", body.Version)}))
		return
	}
	if err != nil {
		_ = c.Error(err)
		return
	}
	if def.Kind != process.KindServiceRequestQueue {
		_ = c.Error(invalidFields(process.FieldError{Field: "version", Message: fmt.Sprintf("version %s is a %s, not a queue", def.Version, def.Kind)}))
		return
	}
	var q process.Queue
	if err := json.Unmarshal(def.Compiled, &q); err != nil {
		_ = c.Error(fmt.Errorf("decode definition %s: %w", def.Version, err))
		return
	}
	p, _ := principalOf(c)
	sr, err := s.cfg.Workflows.MigrateServiceRequest(ctx, c.Param("id"), &q, body.Stages, p.Subject, s.updateID(c, p.Subject))
	if err != nil {
		_ = c.Error(s.closedOrMissing(ctx, c.Param("id"), err))
		return
	}
	writeJSON(c, http.StatusOK, sr)
}

// definitionProblem turns a load error into a 422 listing every problem with its file:line:column;
// any other error passes through unchanged.
func definitionProblem(err error, title, suffix string) error {
	var problems process.Problems
	if !errors.As(err, &problems) {
		return err
	}
	p := newProblem(http.StatusUnprocessableEntity, "invalid-definition", title, fmt.Sprintf("%d problem(s)%s", len(problems), suffix))
	p.problem.Errors = problems
	return p
}
