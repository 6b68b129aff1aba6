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
	Version    string
	Key        string
	Kind       process.Kind
	SourceFile string
	Source     string
	Compiled   json.RawMessage
	CreatedAt  time.Time
}

// SaveDefinition stores a definition version; storing the same version again changes nothing.
func (s *Store) SaveDefinition(ctx context.Context, d Definition) error {
	if err := s.q.SaveDefinition(ctx, db.SaveDefinitionParams{
		Version: d.Version, Key: d.Key, Kind: string(d.Kind), SourceFile: d.SourceFile, Source: d.Source, Compiled: d.Compiled,
	}); err != nil {
		return fmt.Errorf("store: save definition %s@%s: %w", d.Key, d.Version, err)
	}
	return nil
}

// SaveQueues stores every queue of a catalog by version.
func (s *Store) SaveQueues(ctx context.Context, c *process.Catalog) error {
	for _, q := range c.Queues() {
		compiled, err := json.Marshal(q)
		if err != nil {
			return fmt.Errorf("store: encode queue %s: %w", q.Key, err)
		}
		src, _ := c.Source(q.Key)
		if err := s.SaveDefinition(ctx, Definition{
			Version: q.Version, Key: q.Key, Kind: process.KindServiceRequestQueue,
			SourceFile: src.File, Source: src.Text, Compiled: compiled,
		}); err != nil {
			return err
		}
	}
	return nil
}

// GetDefinition reads a definition version; ErrNotFound when there is none.
func (s *Store) GetDefinition(ctx context.Context, version string) (Definition, error) {
	r, err := s.q.GetDefinition(ctx, version)
	if err != nil {
		return Definition{}, fmt.Errorf("store: get definition %s: %w", version, interpret(err))
	}
	return Definition{Version: r.Version, Key: r.Key, Kind: process.Kind(r.Kind), SourceFile: r.SourceFile,
		Source: r.Source, Compiled: r.Compiled, CreatedAt: r.CreatedAt}, nil
}
