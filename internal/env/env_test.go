package env

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGetReadsTheVariableOrItsFile(t *testing.T) {
	t.Setenv("FF_TEST_SECRET", "")
	t.Setenv("FF_TEST_SECRET_FILE", "")
	v, err := Get("FF_TEST_SECRET")
	require.NoError(t, err)
	require.Empty(t, v)

	file := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(file, []byte("s3cret-from-file\n"), 0o600))
	t.Setenv("FF_TEST_SECRET_FILE", file)
	v, err = Get("FF_TEST_SECRET")
	require.NoError(t, err)
	require.Equal(t, "s3cret-from-file", v, "the trailing newline is not part of the secret")

	t.Setenv("FF_TEST_SECRET", "from-env")
	v, err = Get("FF_TEST_SECRET")
	require.NoError(t, err)
	require.Equal(t, "from-env", v, "the variable wins over the file")

	t.Setenv("FF_TEST_SECRET", "")
	t.Setenv("FF_TEST_SECRET_FILE", filepath.Join(t.TempDir(), "missing"))
	_, err = Get("FF_TEST_SECRET")
	require.ErrorContains(t, err, "FF_TEST_SECRET_FILE")
	require.Equal(t, "fallback", Or("FF_TEST_SECRET", "fallback"))
}
