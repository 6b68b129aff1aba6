package store

import (
	"context"
	"fmt"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

// StoredFile is an attachment's bytes and what they are.
type StoredFile struct {
	ID, RecordID, Name, ContentType, CreatedBy string
	Data                                       []byte
}

// SaveAttachment keeps a file of a record.
func (s *Store) SaveAttachment(ctx context.Context, f StoredFile) error {
	if err := s.q.SaveAttachment(ctx, db.SaveAttachmentParams{ID: f.ID, RecordID: f.RecordID, Name: f.Name,
		ContentType: f.ContentType, Size: int64(len(f.Data)), Data: f.Data, CreatedBy: f.CreatedBy}); err != nil {
		return fmt.Errorf("store: save attachment %s of %s: %w", f.ID, f.RecordID, err)
	}
	return nil
}

// GetAttachment reads a file of a record; ErrNotFound when the record has no such file.
func (s *Store) GetAttachment(ctx context.Context, recordID, id string) (StoredFile, error) {
	if !isUUID(recordID) || !isUUID(id) {
		return StoredFile{}, ErrNotFound
	}
	r, err := s.q.GetAttachment(ctx, db.GetAttachmentParams{ID: id, RecordID: recordID})
	if err != nil {
		return StoredFile{}, fmt.Errorf("store: attachment %s of %s: %w", id, recordID, interpret(err))
	}
	return StoredFile{ID: r.ID, RecordID: r.RecordID, Name: r.Name, ContentType: r.ContentType, CreatedBy: r.CreatedBy, Data: r.Data}, nil
}

// DeleteAttachment removes a file that was never listed on its record (its action failed).
func (s *Store) DeleteAttachment(ctx context.Context, id string) error {
	return s.q.DeleteAttachment(ctx, id)
}
