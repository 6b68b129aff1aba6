package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	"github.com/temporalio/ui-server/v2/server/server_options"
)

// uiServer is the Temporal Web UI, served from the assets embedded in ui-server.
type uiServer struct {
	server *uiserver.Server
	done   chan struct{}
}

// startUI serves the Temporal UI on 127.0.0.1:port for the server at temporalHostPort and waits
// until it answers.
func startUI(ctx context.Context, port int, temporalHostPort string) (*uiServer, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	// ui-server exits the process when it cannot listen, so check the port first.
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("temporal ui: port %d is not free (choose another with --ui-port): %w", port, err)
	}
	_ = l.Close()
	cfg := &uiconfig.Config{
		TemporalGRPCAddress: temporalHostPort,
		Host:                "127.0.0.1",
		Port:                port,
		EnableUI:            true,
		DefaultNamespace:    Namespace,
		HideLogs:            true,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		NotifyOnNewVersion:  false,
	}
	s := &uiServer{server: uiserver.NewServer(server_options.WithConfigProvider(cfg)), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = s.server.Start()
	}()
	if err := waitHTTP(ctx, "http://"+addr+"/"); err != nil {
		s.stop()
		return nil, fmt.Errorf("temporal ui: %w", err)
	}
	return s, nil
}

func (s *uiServer) stop() {
	s.server.Stop()
	<-s.done
}

// waitHTTP polls url until it answers with a status below 500.
func waitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
