package worker

import (
	"reflect"
	"testing"

	sdkworker "go.temporal.io/sdk/worker"
)

func TestTuneReadsTheEnvironment(t *testing.T) {
	base := sdkworker.Options{WorkerStopTimeout: 7}
	if got := Tune(base); !reflect.DeepEqual(got, base) {
		t.Fatalf("unset: the SDK's defaults must stay, got %+v", got)
	}

	t.Setenv("FIELDFLOW_WORKFLOW_POLLERS", "4")
	t.Setenv("FIELDFLOW_ACTIVITY_POLLERS", "auto")
	t.Setenv("FIELDFLOW_WORKFLOW_SLOTS", "50")
	t.Setenv("FIELDFLOW_ACTIVITY_SLOTS", "nope")
	got := Tune(base)
	// The behaviours are pointers: DeepEqual compares what they point to.
	if want := sdkworker.NewPollerBehaviorSimpleMaximum(sdkworker.PollerBehaviorSimpleMaximumOptions{MaximumNumberOfPollers: 4}); !reflect.DeepEqual(got.WorkflowTaskPollerBehavior, want) {
		t.Errorf("workflow pollers: got %#v, want %#v", got.WorkflowTaskPollerBehavior, want)
	}
	if want := sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{}); !reflect.DeepEqual(got.ActivityTaskPollerBehavior, want) {
		t.Errorf("activity pollers: got %#v, want %#v", got.ActivityTaskPollerBehavior, want)
	}
	if got.MaxConcurrentWorkflowTaskExecutionSize != 50 {
		t.Errorf("workflow slots: got %d, want 50", got.MaxConcurrentWorkflowTaskExecutionSize)
	}
	if got.MaxConcurrentActivityExecutionSize != 0 {
		t.Errorf("an invalid setting must leave the default, got %d", got.MaxConcurrentActivityExecutionSize)
	}
	if got.WorkerStopTimeout != 7 {
		t.Errorf("other options must be kept, got %v", got.WorkerStopTimeout)
	}
}
