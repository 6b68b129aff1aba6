package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/fieldflow/fieldflow/store"
	"github.com/fieldflow/fieldflow/store/storetest"
)

func TestInboundMailIsRecordedOncePerMessageAndMailbox(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	order, other := uuid.NewString(), uuid.NewString()

	_, err := s.GetInboundMail(ctx, "service", "<a@example.com>")
	require.ErrorIs(t, err, store.ErrNotFound)

	first := store.InboundMail{MessageID: "<a@example.com>", Mailbox: "service", OrderID: order,
		Sender: "ann@example.com", Subject: "Boiler broken", ReceivedAt: t0}
	require.NoError(t, s.RecordInboundMail(ctx, first))
	got, err := s.GetInboundMail(ctx, "service", "<a@example.com>")
	require.NoError(t, err)
	require.True(t, got.ReceivedAt.Equal(t0))
	got.ReceivedAt = t0
	require.Equal(t, first, got)

	// A redelivery keeps the first record.
	again := first
	again.OrderID, again.ReceivedAt = other, t0.Add(time.Hour)
	require.NoError(t, s.RecordInboundMail(ctx, again))
	got, err = s.GetInboundMail(ctx, "service", "<a@example.com>")
	require.NoError(t, err)
	require.Equal(t, order, got.OrderID)
	require.True(t, got.ReceivedAt.Equal(t0))

	// The same message copied to another mailbox is that mailbox's own.
	_, err = s.GetInboundMail(ctx, "sales", "<a@example.com>")
	require.ErrorIs(t, err, store.ErrNotFound)
	sales := first
	sales.Mailbox, sales.OrderID = "sales", other
	require.NoError(t, s.RecordInboundMail(ctx, sales))
	got, err = s.GetInboundMail(ctx, "sales", "<a@example.com>")
	require.NoError(t, err)
	require.Equal(t, other, got.OrderID)

	list, err := s.ListInboundMailOfOrder(ctx, order)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "service", list[0].Mailbox)
	list, err = s.ListInboundMailOfOrder(ctx, "not-a-uuid")
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestSaveAttachmentOnceKeepsTheFirstCopy(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	order, id := uuid.NewString(), uuid.NewString()
	f := store.StoredFile{ID: id, RecordID: order, Name: "photo.png", ContentType: "image/png", CreatedBy: "email:service", Data: []byte("first")}

	saved, err := s.SaveAttachmentOnce(ctx, f)
	require.NoError(t, err)
	require.True(t, saved)
	f.Data = []byte("second")
	saved, err = s.SaveAttachmentOnce(ctx, f)
	require.NoError(t, err)
	require.False(t, saved)

	got, err := s.GetAttachment(ctx, order, id)
	require.NoError(t, err)
	require.Equal(t, []byte("first"), got.Data)
	// SaveAttachment, by contrast, refuses an id it has.
	require.Error(t, s.SaveAttachment(ctx, f))
}
