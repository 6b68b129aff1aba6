package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/internal/db"
)

// NormalizeEmail is how contacts are matched by email: trimmed and lower-case.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// NormalizePhone is how contacts are matched by phone: the digits, with a leading + kept, so
// "+357 22-000 000" and "+35722000000" are the same person.
func NormalizePhone(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for i, r := range s {
		if unicode.IsDigit(r) || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MatchContact finds the contact with the person's email, else phone, and fills in what it lacks;
// a person not known yet becomes a new contact. The result carries the contact's id. A person with
// neither email nor phone is not kept (the result has no id).
func (s *Store) MatchContact(ctx context.Context, c process.Contact) (process.Contact, error) {
	email, phone := NormalizeEmail(c.Email), NormalizePhone(c.Phone)
	if email == "" && phone == "" {
		return c, nil
	}
	for attempt := 0; attempt < 3; attempt++ {
		row, err := s.findContact(ctx, email, phone)
		if err == nil {
			if err := s.q.CompleteContact(ctx, db.CompleteContactParams{ID: row.ID, Name: strings.TrimSpace(c.Name), Email: email, Phone: phone}); err != nil {
				return c, fmt.Errorf("store: update contact %s: %w", row.ID, err)
			}
			c.ID = row.ID
			if c.Name == "" {
				c.Name = row.Name
			}
			return c, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return c, err
		}
		id := uuid.Must(uuid.NewV7()).String()
		n, err := s.q.InsertContact(ctx, db.InsertContactParams{ID: id, Name: strings.TrimSpace(c.Name), Email: email, Phone: phone})
		if err != nil {
			return c, fmt.Errorf("store: create contact: %w", err)
		}
		if n == 1 {
			c.ID = id
			return c, nil
		}
		// Someone created this person at the same moment: match again.
	}
	return c, fmt.Errorf("store: contact %s/%s keeps changing under concurrent writes", email, phone)
}

func (s *Store) findContact(ctx context.Context, email, phone string) (db.Contact, error) {
	if email != "" {
		row, err := s.q.FindContactByEmail(ctx, email)
		if err == nil || !errors.Is(interpret(err), ErrNotFound) {
			return row, interpret(err)
		}
	}
	if phone != "" {
		row, err := s.q.FindContactByPhone(ctx, phone)
		return row, interpret(err)
	}
	return db.Contact{}, ErrNotFound
}

// GetContact reads a contact; ErrNotFound when there is none.
func (s *Store) GetContact(ctx context.Context, id string) (process.Contact, error) {
	if !isUUID(id) {
		return process.Contact{}, ErrNotFound
	}
	row, err := s.q.GetContact(ctx, id)
	if err != nil {
		return process.Contact{}, fmt.Errorf("store: contact %s: %w", id, interpret(err))
	}
	return process.Contact{ID: row.ID, Name: row.Name, Email: row.Email, Phone: row.Phone}, nil
}
