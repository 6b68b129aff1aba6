package api

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"image/png"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"github.com/stretchr/testify/require"
)

// TestQRModulesAreWholePixels renders links as long as the signed rating links at the default
// size and decodes each: the image no larger than asked, the content read back intact. (The tests
// decode with gozxing's PURE_BARCODE hint: without it its finder-pattern detector misplaces some
// rendered codes now and then, which once failed an end-to-end test.)
func TestQRModulesAreWholePixels(t *testing.T) {
	for i := range 60 {
		raw := make([]byte, 180+i)
		_, err := rand.Read(raw)
		require.NoError(t, err)
		link := "http://127.0.0.1:23456/rate/" + base64.RawURLEncoding.EncodeToString(raw)
		b, err := qrPNG(link, qrDefaultSize)
		require.NoError(t, err)
		img, err := png.Decode(bytes.NewReader(b))
		require.NoError(t, err)
		width := img.Bounds().Dx()
		require.LessOrEqual(t, width, qrDefaultSize)
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		require.NoError(t, err)
		res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}) // a rendered code, not a photo
		require.NoError(t, err, "link %d (%d characters)", i, len(link))
		require.Equal(t, link, res.GetText())
	}
}
