package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store/internal/db"
)

// Devices: equipment known by a short code printed on a label as a QR code.

// DeviceCodeAlphabet is what generated device codes are made of: digits and capitals without 0, O,
// 1 and I, which people read one for another. Its 32 letters make every byte of randomness map
// evenly.
const DeviceCodeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// DeviceCodeLength is the length of a generated device code (40 bits).
const DeviceCodeLength = 8

// ErrDeviceExists means another device has the code.
var ErrDeviceExists = errors.New("store: a device with this code exists")

// Device is a piece of equipment at a customer's site.
type Device struct {
	Code     string `json:"code"`
	Account  string `json:"account"`
	Category string `json:"category,omitempty"`
	Model    string `json:"model,omitempty"`
	Serial   string `json:"serial,omitempty"`
	// ContactID is the customer's contact for the equipment; empty when none is on file.
	ContactID string    `json:"contactId,omitempty"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
}

// NormalizeDeviceCode is how device codes are compared: trimmed and upper-case, so a code typed
// from a label in lower case still finds the device.
func NormalizeDeviceCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// ValidDeviceCode reports whether a (normalized) code may name a device: 4 to 32 capitals, digits
// or dashes, starting with a capital or a digit. Codes appear in URLs and on labels.
func ValidDeviceCode(code string) bool {
	if len(code) < 4 || len(code) > 32 || code[0] == '-' {
		return false
	}
	for _, r := range code {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// NewDeviceCode makes a random device code of DeviceCodeLength letters of DeviceCodeAlphabet.
func NewDeviceCode() string {
	b := make([]byte, DeviceCodeLength)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = DeviceCodeAlphabet[int(b[i])%len(DeviceCodeAlphabet)]
	}
	return string(b)
}

// CreateDevice keeps a new device. Its code is normalized, or generated when empty; a code
// another device has gives ErrDeviceExists (a generated one is drawn again instead). The result
// is the device as stored.
func (s *Store) CreateDevice(ctx context.Context, d Device) (Device, error) {
	generate := strings.TrimSpace(d.Code) == ""
	d.Code = NormalizeDeviceCode(d.Code)
	if d.CreatedAt.IsZero() {
		d.CreatedAt = time.Now()
	}
	d.CreatedAt = d.CreatedAt.UTC().Truncate(time.Microsecond)
	var contact *string
	if d.ContactID != "" {
		contact = &d.ContactID
	}
	for attempt := 0; attempt < 5; attempt++ {
		if generate {
			d.Code = NewDeviceCode()
		}
		n, err := s.q.InsertDevice(ctx, db.InsertDeviceParams{Code: d.Code, Account: d.Account, Category: d.Category,
			Model: d.Model, Serial: d.Serial, ContactID: contact, CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt})
		if err != nil {
			return Device{}, fmt.Errorf("store: create device %s: %w", d.Code, err)
		}
		if n == 1 {
			return d, nil
		}
		if !generate {
			return Device{}, fmt.Errorf("store: create device %s: %w", d.Code, ErrDeviceExists)
		}
	}
	return Device{}, errors.New("store: create device: no free code after 5 draws")
}

// GetDevice reads a device by its code (in any case); ErrNotFound when there is none.
func (s *Store) GetDevice(ctx context.Context, code string) (Device, error) {
	code = NormalizeDeviceCode(code)
	row, err := s.q.GetDevice(ctx, code)
	if err != nil {
		return Device{}, fmt.Errorf("store: device %s: %w", code, interpret(err))
	}
	d := Device{Code: row.Code, Account: row.Account, Category: row.Category, Model: row.Model, Serial: row.Serial,
		CreatedBy: row.CreatedBy, CreatedAt: row.CreatedAt.UTC()}
	if row.ContactID != nil {
		d.ContactID = *row.ContactID
	}
	return d, nil
}

// ProcessDevice is the device as a work order records it.
func (d Device) ProcessDevice() process.Device {
	return process.Device{Code: d.Code, Category: d.Category, Model: d.Model, Serial: d.Serial}
}

// One-time sign-in codes of the customer portal.

const (
	// PortalCodeTTL is how long a sign-in code works.
	PortalCodeTTL = 10 * time.Minute
	// PortalCodeMaxAttempts is how many wrong codes lock the email's code.
	PortalCodeMaxAttempts = 5
)

// Why a sign-in code was refused.
var (
	// ErrCodeWrong: not the code; the email's code still works for PortalCodeMaxAttempts tries.
	ErrCodeWrong = errors.New("store: the sign-in code is wrong")
	// ErrCodeLocked: too many wrong codes; only a new code helps.
	ErrCodeLocked = errors.New("store: too many wrong sign-in codes")
	// ErrCodeExpired: no code works for the email (none asked for, expired or already used).
	ErrCodeExpired = errors.New("store: no sign-in code is valid for this email")
)

// CodeError is a refused sign-in code with the attempts left on it.
type CodeError struct {
	Err error
	// AttemptsLeft counts the tries the email's code still has (for ErrCodeWrong).
	AttemptsLeft int
}

func (e *CodeError) Error() string { return e.Err.Error() }
func (e *CodeError) Unwrap() error { return e.Err }

// NewPortalCode makes a six-digit sign-in code for the email (normalized), replacing any earlier
// one, and returns it with when it expires. Only its hash is kept.
func (s *Store) NewPortalCode(ctx context.Context, email string, now time.Time) (string, time.Time, error) {
	email = NormalizeEmail(email)
	if email == "" {
		return "", time.Time{}, errors.New("store: a sign-in code needs an email")
	}
	code := sixDigits()
	expires := now.Add(PortalCodeTTL).UTC()
	if err := s.q.ReplacePortalCode(ctx, db.ReplacePortalCodeParams{Email: email, CodeHash: codeHash(email, code),
		ExpiresAt: expires, CreatedAt: now.UTC()}); err != nil {
		return "", time.Time{}, fmt.Errorf("store: keep sign-in code: %w", err)
	}
	return code, expires, nil
}

// UsePortalCode checks a sign-in code for the email and uses it up when it is right. A refusal is
// a *CodeError wrapping ErrCodeWrong, ErrCodeLocked or ErrCodeExpired. Concurrent tries are
// counted one by one, so no more than PortalCodeMaxAttempts wrong codes are ever tried.
func (s *Store) UsePortalCode(ctx context.Context, email, code string, now time.Time) error {
	email = NormalizeEmail(email)
	code = strings.TrimSpace(code)
	row, err := s.q.TryPortalCode(ctx, db.TryPortalCodeParams{CodeHash: codeHash(email, code), Now: now.UTC(),
		Email: email, MaxAttempts: PortalCodeMaxAttempts})
	if err == nil {
		if row.Accepted {
			return nil
		}
		return &CodeError{Err: ErrCodeWrong, AttemptsLeft: max(0, PortalCodeMaxAttempts-int(row.Attempts))}
	}
	if !errors.Is(interpret(err), ErrNotFound) {
		return fmt.Errorf("store: check sign-in code: %w", err)
	}
	// No live code: say why, so the customer knows whether to ask for a new one.
	live, err := s.q.GetPortalCode(ctx, email)
	if err != nil {
		if errors.Is(interpret(err), ErrNotFound) {
			return &CodeError{Err: ErrCodeExpired}
		}
		return fmt.Errorf("store: check sign-in code: %w", err)
	}
	if live.UsedAt == nil && live.Attempts >= PortalCodeMaxAttempts && live.ExpiresAt.After(now) {
		return &CodeError{Err: ErrCodeLocked}
	}
	return &CodeError{Err: ErrCodeExpired}
}

// sixDigits is a uniformly random code from 000000 to 999999.
func sixDigits() string {
	var b [4]byte
	for {
		_, _ = rand.Read(b[:])
		n := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		// Drop the top of the range that would favour low codes.
		if n < 4294000000 {
			return fmt.Sprintf("%06d", n%1000000)
		}
	}
}

// codeHash is what is kept of a code: its SHA-256, bound to the email.
func codeHash(email, code string) []byte {
	h := sha256.Sum256([]byte(email + "\n" + code))
	return h[:]
}
