package store_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/process"
	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

func TestDevices(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	contact, err := s.MatchContact(ctx, process.Contact{Name: "Ada", Email: "ada@example.com"})
	require.NoError(t, err)

	d, err := s.CreateDevice(ctx, store.Device{Code: " hvac-0042 ", Account: "Acme Ltd", Category: "hvac", Model: "AC-9",
		Serial: "SN1", ContactID: contact.ID, CreatedBy: "alice", CreatedAt: t0})
	require.NoError(t, err)
	require.Equal(t, "HVAC-0042", d.Code, "codes are kept upper-case")

	got, err := s.GetDevice(ctx, "hvac-0042")
	require.NoError(t, err, "a code typed in lower case finds the device")
	require.Equal(t, d, got)
	require.Equal(t, contact.ID, got.ContactID)
	require.Equal(t, process.Device{Code: "HVAC-0042", Category: "hvac", Model: "AC-9", Serial: "SN1"}, got.ProcessDevice())

	_, err = s.CreateDevice(ctx, store.Device{Code: "HVAC-0042", Account: "Other", CreatedBy: "bob"})
	require.ErrorIs(t, err, store.ErrDeviceExists)
	again, err := s.GetDevice(ctx, "HVAC-0042")
	require.NoError(t, err)
	require.Equal(t, "Acme Ltd", again.Account, "a refused device changes nothing")

	_, err = s.GetDevice(ctx, "NOPE-1234")
	require.ErrorIs(t, err, store.ErrNotFound)

	// Generated codes: short, from the unambiguous alphabet, all different.
	seen := map[string]bool{}
	for range 50 {
		g, err := s.CreateDevice(ctx, store.Device{Account: "Acme Ltd", CreatedBy: "alice"})
		require.NoError(t, err)
		require.Len(t, g.Code, store.DeviceCodeLength)
		for _, r := range g.Code {
			require.True(t, strings.ContainsRune(store.DeviceCodeAlphabet, r), g.Code)
		}
		require.False(t, seen[g.Code])
		seen[g.Code] = true
		require.Empty(t, g.ContactID)
	}
	require.NotContains(t, store.DeviceCodeAlphabet, "0")
	require.NotContains(t, store.DeviceCodeAlphabet, "O")
	require.NotContains(t, store.DeviceCodeAlphabet, "1")
	require.NotContains(t, store.DeviceCodeAlphabet, "I")
}

func TestValidDeviceCode(t *testing.T) {
	for code, ok := range map[string]bool{
		"HVAC-0042": true, "AB12": true, "ABC": false, "-ABC": false, "ab12": false, "A B12": false,
		"A/B12": false, strings.Repeat("A", 32): true, strings.Repeat("A", 33): false, "ÄBCD": false,
	} {
		require.Equal(t, ok, store.ValidDeviceCode(code), code)
	}
}

func TestPortalCodes(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)

	code, expires, err := s.NewPortalCode(ctx, " Ada@Example.com ", t0)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9]{6}$`, code)
	require.Equal(t, t0.Add(10*time.Minute), expires)

	// A wrong code counts; the email is matched however it is written.
	err = s.UsePortalCode(ctx, "ada@example.com", wrong(code), t0.Add(time.Minute))
	require.ErrorIs(t, err, store.ErrCodeWrong)
	var ce *store.CodeError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, 4, ce.AttemptsLeft)

	require.NoError(t, s.UsePortalCode(ctx, "ADA@example.com", code, t0.Add(2*time.Minute)))
	require.ErrorIs(t, s.UsePortalCode(ctx, "ada@example.com", code, t0.Add(3*time.Minute)), store.ErrCodeExpired, "single use")

	// Expiry.
	code, _, err = s.NewPortalCode(ctx, "ada@example.com", t0)
	require.NoError(t, err)
	require.ErrorIs(t, s.UsePortalCode(ctx, "ada@example.com", code, t0.Add(10*time.Minute)), store.ErrCodeExpired)

	// A new code replaces the old one.
	old, _, err := s.NewPortalCode(ctx, "ada@example.com", t0)
	require.NoError(t, err)
	fresh, _, err := s.NewPortalCode(ctx, "ada@example.com", t0.Add(time.Second))
	require.NoError(t, err)
	if old != fresh {
		require.ErrorIs(t, s.UsePortalCode(ctx, "ada@example.com", old, t0.Add(2*time.Second)), store.ErrCodeWrong)
	}
	require.NoError(t, s.UsePortalCode(ctx, "ada@example.com", fresh, t0.Add(3*time.Second)))

	// No code asked for.
	require.ErrorIs(t, s.UsePortalCode(ctx, "bob@example.com", "123456", t0), store.ErrCodeExpired)
}

func TestPortalCodeLocksAfterFiveWrongAttempts(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	code, _, err := s.NewPortalCode(ctx, "ada@example.com", t0)
	require.NoError(t, err)

	// Ten wrong tries at once: exactly five are counted, the rest find the code locked.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() { errs <- s.UsePortalCode(ctx, "ada@example.com", wrong(code), t0.Add(time.Minute)) })
	}
	wg.Wait()
	close(errs)
	var wrongs, locked int
	for err := range errs {
		switch {
		case errors.Is(err, store.ErrCodeLocked):
			locked++
		default:
			require.ErrorIs(t, err, store.ErrCodeWrong)
			wrongs++
		}
	}
	require.Equal(t, store.PortalCodeMaxAttempts, wrongs)
	require.Equal(t, 10-store.PortalCodeMaxAttempts, locked)

	// Locked: even the right code is refused, until a new code is asked for.
	require.ErrorIs(t, s.UsePortalCode(ctx, "ada@example.com", code, t0.Add(2*time.Minute)), store.ErrCodeLocked)
	code, _, err = s.NewPortalCode(ctx, "ada@example.com", t0.Add(3*time.Minute))
	require.NoError(t, err)
	require.NoError(t, s.UsePortalCode(ctx, "ada@example.com", code, t0.Add(4*time.Minute)))
}

// wrong is a six-digit code other than code.
func wrong(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}
