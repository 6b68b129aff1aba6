// Package worker registers Fieldflow's workflows and activities on a Temporal worker.
package worker

import (
	"net/http"
	"os"
	"strconv"
	"sync"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/fieldflow/fieldflow/activities"
	"github.com/fieldflow/fieldflow/auth"
	"github.com/fieldflow/fieldflow/internal/env"
	"github.com/fieldflow/fieldflow/workflows"
)

// Store is the storage the activities use.
type Store interface {
	activities.ProjectionStore
	activities.MessageStore
	activities.DefinitionStore
	activities.InvoiceStore
	activities.AssignmentStore
}

// Dependencies are what the activities need.
type Dependencies struct {
	Store Store
	// BaseURL is the public address of the API, for links in messages.
	BaseURL string
	// HTTPClient delivers webhooks; a client with a 20 s timeout when nil.
	HTTPClient *http.Client
	// Mailer sends email (nil: messages are kept in the notifications table only), from MailFrom;
	// StaffDomain gives staff addresses (NAME@StaffDomain).
	Mailer      activities.Mailer
	MailFrom    string
	StaffDomain string
	// SMS and WeChat send text messages (rating invitations, notifications on those channels)
	// through providers' HTTP endpoints; nil: that channel fails with a reason, unless no delivery
	// at all is configured (then messages are kept in the notifications table only).
	SMS    activities.TextSender
	WeChat activities.TextSender
	// Keys sign the links contacts answer approvals through.
	Keys *auth.Keys
}

// New creates a worker on the Fieldflow task queue with every workflow and activity registered.
// Start it with Run or Start.
func New(c client.Client, deps Dependencies, opts sdkworker.Options) sdkworker.Worker {
	ApplyStickyCacheSize()
	w := sdkworker.New(c, workflows.TaskQueue, Tune(opts))
	Register(w, deps)
	return w
}

// DefaultStickyCacheSize is how many runs a worker keeps in memory between their workflow tasks
// unless FIELDFLOW_STICKY_CACHE says otherwise. The SDK's default, 10,000, costs about 0.18 MB
// each (BENCHMARKS.md, "Scale"); a run that is not cached replays its history on its next task,
// which for a request's few dozen events is quick.
const DefaultStickyCacheSize = 1000

var stickyOnce sync.Once

// ApplyStickyCacheSize sets the process's sticky workflow cache to StickyCacheSize. The SDK keeps
// one cache per process, made by the first worker of any kind that starts — the embedded Temporal
// server's own system worker too — so a process that embeds the server calls this before it
// starts the server. Later calls do nothing.
func ApplyStickyCacheSize() {
	stickyOnce.Do(func() { sdkworker.SetStickyWorkflowCacheSize(StickyCacheSize()) })
}

// StickyCacheSize is the sticky workflow cache size: FIELDFLOW_STICKY_CACHE, or
// DefaultStickyCacheSize when unset or not a positive number.
func StickyCacheSize() int {
	if n := positive("FIELDFLOW_STICKY_CACHE"); n > 0 {
		return n
	}
	return DefaultStickyCacheSize
}

// Tune applies the worker settings the environment gives to opts: FIELDFLOW_WORKFLOW_POLLERS and
// FIELDFLOW_ACTIVITY_POLLERS (a number of pollers, or "auto" for the SDK's autoscaling pollers),
// FIELDFLOW_WORKFLOW_SLOTS and FIELDFLOW_ACTIVITY_SLOTS (tasks run at once). Unset or invalid
// settings leave the SDK's defaults (2 pollers each, 1,000 slots each), which BENCHMARKS.md
// ("Worker tuning") found as fast as any other setting on 2 cores.
func Tune(opts sdkworker.Options) sdkworker.Options {
	if b := pollerBehavior("FIELDFLOW_WORKFLOW_POLLERS"); b != nil {
		opts.WorkflowTaskPollerBehavior = b
	}
	if b := pollerBehavior("FIELDFLOW_ACTIVITY_POLLERS"); b != nil {
		opts.ActivityTaskPollerBehavior = b
	}
	if n := positive("FIELDFLOW_WORKFLOW_SLOTS"); n > 0 {
		opts.MaxConcurrentWorkflowTaskExecutionSize = n
	}
	if n := positive("FIELDFLOW_ACTIVITY_SLOTS"); n > 0 {
		opts.MaxConcurrentActivityExecutionSize = n
	}
	return opts
}

// pollerBehavior reads a poller setting: a number, or "auto"; nil when unset or invalid.
func pollerBehavior(name string) sdkworker.PollerBehavior {
	if env.Or(name, "") == "auto" {
		return sdkworker.NewPollerBehaviorAutoscaling(sdkworker.PollerBehaviorAutoscalingOptions{})
	}
	if n := positive(name); n > 0 {
		return sdkworker.NewPollerBehaviorSimpleMaximum(sdkworker.PollerBehaviorSimpleMaximumOptions{MaximumNumberOfPollers: n})
	}
	return nil
}

// positive reads a positive number from the environment; 0 when unset or not one.
func positive(name string) int {
	if n, err := strconv.Atoi(env.Or(name, "")); err == nil && n > 0 {
		return n
	}
	return 0
}

// Register registers every workflow and activity on a registry (a worker, or a test environment).
func Register(r sdkworker.Registry, deps Dependencies) {
	r.RegisterWorkflowWithOptions(workflows.ServiceRequest, workflow.RegisterOptions{Name: workflows.ServiceRequestWorkflowType})
	r.RegisterWorkflowWithOptions(workflows.WorkOrder, workflow.RegisterOptions{Name: workflows.WorkOrderWorkflowType})
	r.RegisterActivity(&activities.Projections{Store: deps.Store})
	r.RegisterActivity(&activities.Messages{Store: deps.Store, BaseURL: deps.BaseURL, Mailer: deps.Mailer, From: deps.MailFrom, StaffDomain: deps.StaffDomain,
		SMS: deps.SMS, WeChat: deps.WeChat, Links: linker(deps.Keys)})
	r.RegisterActivity(&activities.Webhooks{Client: deps.HTTPClient})
	r.RegisterActivity(&activities.Definitions{Store: deps.Store})
	r.RegisterActivity(&activities.Invoices{Store: deps.Store})
	r.RegisterActivity(&activities.Assignments{Store: deps.Store})
}

// MailFromEnv reads the message delivery settings: FIELDFLOW_SMTP_ADDR (host:port; unset: no
// email is sent), FIELDFLOW_SMTP_USERNAME, FIELDFLOW_SMTP_PASSWORD (or FIELDFLOW_SMTP_PASSWORD_FILE),
// FIELDFLOW_SMTP_FROM and FIELDFLOW_STAFF_EMAIL_DOMAIN, and the SMS and WeChat providers (see
// TextFromEnv; their tokens may come from *_FILE too).
func MailFromEnv(deps *Dependencies) {
	TextFromEnv(deps)
	if addr := env.Or("FIELDFLOW_SMTP_ADDR", ""); addr != "" {
		deps.Mailer = activities.SMTPMailer{Addr: addr, Username: env.Or("FIELDFLOW_SMTP_USERNAME", ""), Password: env.Or("FIELDFLOW_SMTP_PASSWORD", "")}
	}
	deps.MailFrom = os.Getenv("FIELDFLOW_SMTP_FROM")
	if deps.MailFrom == "" {
		deps.MailFrom = "fieldflow@localhost"
	}
	deps.StaffDomain = os.Getenv("FIELDFLOW_STAFF_EMAIL_DOMAIN")
}

// linker keeps a nil *auth.Keys a nil interface, so Messages can tell that links cannot be signed.
func linker(k *auth.Keys) activities.ApprovalLinker {
	if k == nil {
		return nil
	}
	return k
}

// TextFromEnv reads the SMS and WeChat providers: FIELDFLOW_SMS_URL and FIELDFLOW_WECHAT_URL are
// the endpoints text messages are POSTed to as JSON (unset: that channel is not configured), with
// the bearer tokens FIELDFLOW_SMS_TOKEN and FIELDFLOW_WECHAT_TOKEN when set.
func TextFromEnv(deps *Dependencies) {
	if u := os.Getenv("FIELDFLOW_SMS_URL"); u != "" {
		deps.SMS = activities.HTTPTextSender{URL: u, Token: env.Or("FIELDFLOW_SMS_TOKEN", "")}
	}
	if u := os.Getenv("FIELDFLOW_WECHAT_URL"); u != "" {
		deps.WeChat = activities.HTTPTextSender{URL: u, Token: env.Or("FIELDFLOW_WECHAT_TOKEN", "")}
	}
}
