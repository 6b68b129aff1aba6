package process

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMigrateServiceRequest(t *testing.T) {
	files := shippedFiles(t)
	before, err := Load(files)
	require.NoError(t, err)
	files["service-requests/billing.yaml"] = []byte(strings.Replace(string(files["service-requests/billing.yaml"]),
		"  - {id: investigation, title: Investigation, state: in_progress}\n", "  - {id: analysis, title: Analysis, state: in_progress}\n", 1))
	after, err := Load(files)
	require.NoError(t, err)
	oldQ, _ := before.Queue("billing")
	newQ, _ := after.Queue("billing")
	sr := newRequest(t, oldQ)
	sr, _, err = ApplyServiceRequest(oldQ, sr, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	require.Equal(t, "investigation", sr.Stage)

	_, _, err = MigrateServiceRequest(newQ, sr, nil, "root", t0)
	requireCode(t, err, CodeInvalid) // investigation is gone from the new version
	_, _, err = MigrateServiceRequest(newQ, sr, map[string]string{"investigation": "closed"}, "root", t0)
	requireCode(t, err, CodeInvalid) // a migration never closes
	_, _, err = MigrateServiceRequest(oldQ, sr, nil, "root", t0)
	requireCode(t, err, CodeNotAllowed) // already on that version
	tech, _ := after.Queue("technical-support")
	_, _, err = MigrateServiceRequest(tech, sr, nil, "root", t0)
	requireCode(t, err, CodeInvalid) // another queue

	moved, effects, err := MigrateServiceRequest(newQ, sr, map[string]string{"investigation": "analysis"}, "root", t0)
	require.NoError(t, err)
	require.Equal(t, "analysis", moved.Stage)
	require.Equal(t, newQ.Version, moved.Definition.Version)
	ev := effects[0].(Emit).Event
	require.Equal(t, EventMigrated, ev.Type)
	require.Equal(t, map[string]any{"fromVersion": oldQ.Version, "toVersion": newQ.Version, "fromStage": "investigation", "toStage": "analysis"}, ev.Details)
	next, _, err := ApplyServiceRequest(newQ, moved, Action{Kind: ActionProgress, Actor: "alice"}, t0)
	require.NoError(t, err)
	require.Equal(t, "proposal", next.Stage, "the request now follows the new version")
}

func TestMigrateWorkOrder(t *testing.T) {
	files := shippedFiles(t)
	before, err := Load(files)
	require.NoError(t, err)
	files["work-orders/repair.yaml"] = []byte(strings.Replace(string(files["work-orders/repair.yaml"]), "    timeout: 30bm\n", "    timeout: 45bm\n", 1))
	after, err := Load(files)
	require.NoError(t, err)
	oldT, _ := before.WorkOrderType("repair")
	newT, _ := after.WorkOrderType("repair")
	wo, _, err := CreateWorkOrder(oldT, NewWorkOrder{ID: "o", Number: "WO-1", RecordType: "repair", Subject: "s", Channel: "agent"}, "alice", t0)
	require.NoError(t, err)
	require.Equal(t, "dispatch", wo.Node)

	_, _, err = MigrateWorkOrder(oldT, newT, wo, map[string]string{"dispatch": "accept"}, "root", t0)
	requireCode(t, err, CodeInvalid) // an assignment node cannot become an acceptance node
	_, _, err = MigrateWorkOrder(oldT, newT, wo, map[string]string{"dispatch": "nowhere"}, "root", t0)
	requireCode(t, err, CodeInvalid)
	moved, _, err := MigrateWorkOrder(oldT, newT, wo, nil, "root", t0)
	require.NoError(t, err)
	require.Equal(t, newT.Version, moved.Definition.Version)
	require.Equal(t, "dispatch", moved.Node)
}
