package process

// APIVersion is the only definition language version this build reads.
const APIVersion = "fieldflow/v1"

// Kind says what a definition file describes.
type Kind string

// The definition kinds.
const (
	KindServiceRequestQueue Kind = "ServiceRequestQueue"
	KindWorkOrderType       Kind = "WorkOrderType"
	KindCalendar            Kind = "Calendar"
	// KindScenario marks a simulation script kept beside the definitions; it defines nothing.
	KindScenario Kind = "Scenario"
)

// kinds lists every kind a definition file may have, for messages.
var kinds = []string{
	string(KindServiceRequestQueue), string(KindWorkOrderType), string(KindCalendar),
	string(KindMessageTemplate), string(KindRatingTemplate), string(KindMailbox), string(KindScenario),
}

// StageState is the state a stage maps to: every process has one new stage, one closed stage and
// any number of in-progress stages between them.
type StageState string

// The three stage states.
const (
	StateNew        StageState = "new"
	StateInProgress StageState = "in_progress"
	StateClosed     StageState = "closed"
)
