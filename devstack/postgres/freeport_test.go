package postgres

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePortAvoidsTheEphemeralRange: the ports handed out are bindable and below the range the
// kernel gives outgoing connections, so no client connection can take one before its server binds.
func TestFreePortAvoidsTheEphemeralRange(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if port < lowPortMin || port >= lowPortMax {
			t.Fatalf("port %d is outside [%d, %d)", port, lowPortMin, lowPortMax)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("port %d is not free: %v", port, err)
		}
		_ = l.Close()
		seen[port] = true
	}
	if len(seen) < 15 {
		t.Fatalf("only %d distinct ports in 20 picks", len(seen))
	}
}
