package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/fieldflow/fieldflow/store/internal/db"
)

// NextNumber hands out the next sequence value of scope to the record recordID. Asking again for
// the same record returns the value it already has, so a retried creation keeps its number.
func (s *Store) NextNumber(ctx context.Context, recordID, scope string) (int64, error) {
	var seq int64
	err := s.inTx(ctx, func(q *db.Queries) error {
		existing, err := q.GetRecordNumber(ctx, recordID)
		if err == nil {
			seq = existing
			return nil
		}
		if !errors.Is(interpret(err), ErrNotFound) {
			return err
		}
		if seq, err = q.NextSequence(ctx, scope); err != nil {
			return err
		}
		return q.SaveRecordNumber(ctx, db.SaveRecordNumberParams{RecordID: recordID, Scope: scope, Seq: seq})
	})
	if isUniqueViolation(err) {
		// A concurrent call for the same record won; take its number.
		seq, err = s.q.GetRecordNumber(ctx, recordID)
	}
	if err != nil {
		return 0, fmt.Errorf("store: next number in %s for %s: %w", scope, recordID, err)
	}
	return seq, nil
}
