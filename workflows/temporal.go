package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.uber.org/zap"
)

// Dial connects to the Temporal frontend at hostPort, logging through logger; options change the
// client's options further (e.g. its MetricsHandler).
func Dial(ctx context.Context, hostPort, namespace string, logger *zap.Logger, options ...func(*client.Options)) (client.Client, error) {
	opts := client.Options{
		HostPort:  hostPort,
		Namespace: namespace,
		Logger:    zapLogger{logger.Named("temporal-client").Sugar()},
	}
	for _, o := range options {
		o(&opts)
	}
	c, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("temporal: connect to %s: %w", hostPort, err)
	}
	return c, nil
}

// RegisterSearchAttributes adds Fieldflow's custom search attributes to the namespace, skipping
// those it has already. Safe to call from every process at start-up.
func RegisterSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	ops := c.OperatorService()
	existing, err := ops.ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("temporal: list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range SearchAttributes() {
		if _, ok := existing.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	req := &operatorservice.AddSearchAttributesRequest{Namespace: namespace, SearchAttributes: missing}
	if _, err := ops.AddSearchAttributes(ctx, req); err != nil {
		var exists *serviceerror.AlreadyExists
		if !errors.As(err, &exists) {
			return fmt.Errorf("temporal: add search attributes: %w", err)
		}
	}
	return nil
}

// WaitForServer polls the frontend until it answers or ctx ends.
func WaitForServer(ctx context.Context, c client.Client) error {
	for {
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("temporal: the server did not become healthy: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// zapLogger adapts zap to the SDK's logger interface.
type zapLogger struct{ s *zap.SugaredLogger }

func (l zapLogger) Debug(msg string, kv ...any) { l.s.Debugw(msg, kv...) }
func (l zapLogger) Info(msg string, kv ...any)  { l.s.Infow(msg, kv...) }
func (l zapLogger) Warn(msg string, kv ...any)  { l.s.Warnw(msg, kv...) }
func (l zapLogger) Error(msg string, kv ...any) { l.s.Errorw(msg, kv...) }
