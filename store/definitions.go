package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/internal/db"
)

// Definition is a stored definition version.
type Definition struct {
	Version    string          `json:"version"`
	Key        string          `json:"key"`
	Kind       process.Kind    `json:"kind"`
	SourceFile string          `json:"file"`
	Source     string          `json:"-"`
	Compiled   json.RawMessage `json:"-"`
	CreatedAt  time.Time       `json:"createdAt"`
}

// PublishCatalog stores every process of a catalog by version (versions are immutable: storing one
// again changes nothing) and makes them the versions new runs use.
func (s *Store) PublishCatalog(ctx context.Context, c *process.Catalog) error {
	return s.inTx(ctx, func(q *db.Queries) error {
		for _, src := range c.Sources() {
			if src.Kind != process.KindServiceRequestQueue && src.Kind != process.KindWorkOrderType {
				continue // calendars and templates are embedded in the processes that use them
			}
			def, _ := c.Definition(src.Key)
			compiled, err := json.Marshal(def)
			if err != nil {
				return fmt.Errorf("store: encode %s: %w", src.Key, err)
			}
			if err := q.SaveDefinition(ctx, db.SaveDefinitionParams{
				Version: src.Version, Key: src.Key, Kind: string(src.Kind), SourceFile: src.File, Source: src.Text, Compiled: compiled,
			}); err != nil {
				return fmt.Errorf("store: save definition %s@%s: %w", src.Key, src.Version, err)
			}
			if err := q.SetDefinitionHead(ctx, db.SetDefinitionHeadParams{Key: src.Key, Kind: string(src.Kind), Version: src.Version}); err != nil {
				return fmt.Errorf("store: publish %s@%s: %w", src.Key, src.Version, err)
			}
		}
		return nil
	})
}

// GetDefinition reads a definition version; ErrNotFound when there is none.
func (s *Store) GetDefinition(ctx context.Context, version string) (Definition, error) {
	r, err := s.q.GetDefinition(ctx, version)
	if err != nil {
		return Definition{}, fmt.Errorf("store: get definition %s: %w", version, interpret(err))
	}
	return fromRow(r), nil
}

// CurrentDefinition reads the version of a definition that new runs use.
func (s *Store) CurrentDefinition(ctx context.Context, key string) (Definition, error) {
	r, err := s.q.GetDefinitionHead(ctx, key)
	if err != nil {
		return Definition{}, fmt.Errorf("store: current definition of %s: %w", key, interpret(err))
	}
	return fromRow(r), nil
}

// ListDefinitionVersions lists every stored version of a definition, newest first.
func (s *Store) ListDefinitionVersions(ctx context.Context, key string) ([]Definition, error) {
	rows, err := s.q.ListDefinitionVersions(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("store: versions of %s: %w", key, err)
	}
	out := make([]Definition, len(rows))
	for i, r := range rows {
		out[i] = Definition{Version: r.Version, Key: r.Key, Kind: process.Kind(r.Kind), SourceFile: r.SourceFile, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

func fromRow(r db.Definition) Definition {
	return Definition{Version: r.Version, Key: r.Key, Kind: process.Kind(r.Kind), SourceFile: r.SourceFile,
		Source: r.Source, Compiled: r.Compiled, CreatedAt: r.CreatedAt}
}
