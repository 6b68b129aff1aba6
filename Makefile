# Fieldflow — run `make help` for the list of targets.

GO        ?= go
BIN       := bin/fieldflow
TEST_FLAGS ?= -count=1 -timeout 30m

# Tools are run at pinned versions with `go run`; nothing needs installing by hand.
WORKFLOWCHECK := go.temporal.io/sdk/contrib/tools/workflowcheck@v0.6.0
STATICCHECK   := honnef.co/go/tools/cmd/staticcheck@v0.8.2
SQLC          := github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/fieldflow
	$(GO) build -o $(BIN) ./cmd/fieldflow

.PHONY: dev
dev: build ## Run everything in one process: PostgreSQL, Temporal + UI, worker, API (state in .fieldflow/)
	./$(BIN) dev

.PHONY: test
test: ## Run every test: unit, store (private PostgreSQL), workflows (SDK test suite), end-to-end (embedded Temporal)
	$(GO) test $(TEST_FLAGS) ./...
	$(GO) test -run '^$$' -bench . -benchtime 1x ./process/...

.PHONY: test-unit
test-unit: ## Run the fast tests only (no package that links the Temporal server)
	$(GO) test $(TEST_FLAGS) $$($(GO) list ./... | grep -v -e /e2e -e '/devstack$$')

.PHONY: lint
lint: ## gofmt, go vet, workflowcheck (determinism of workflow code) and staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(WORKFLOWCHECK) -config workflowcheck.config.yaml ./workflows/...
	$(GO) run $(STATICCHECK) ./...

.PHONY: generate
generate: ## Regenerate store/internal/db from the SQL in store/ (sqlc)
	cd store && $(GO) run $(SQLC) generate

.PHONY: verify
verify: generate lint ## Check that generated code is current, then lint
	git diff --exit-code -- store/internal/db

# The end-to-end tests whose runs make the recorded histories (see workflows/testdata/histories/README.md).
HISTORY_TESTS := TestServiceRequestFromNewToClosed|TestCreationIsIdempotent|TestConversionToWorkOrder|TestChargesApprovalByLinkAndInvoice|TestNotesActivitiesAndTodo|TestSLAAlertFiresASignedWebhook|TestRunsKeepTheirVersion|TestContinueAsNewKeepsEverything|TestRepairFromDispatchToCompletion|TestConcurrentClaimsOfAPooledOrder|TestOfferTimesOutAndReturnsToDispatch|TestRatingAutoCompletesInSeconds|TestRatingsOfInstallations|TestFollowUpOfALowRatingTimesOut

.PHONY: histories
histories: ## Record the histories of real runs into workflows/testdata/histories for the replay tests
	FIELDFLOW_RECORD_HISTORIES=$(CURDIR)/workflows/testdata/histories $(GO) test -count=1 -timeout 20m -run '^($(HISTORY_TESTS))$$' ./e2e/

FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: ## Fuzz the definition loader, expressions, durations, actions, the API's request and action bodies and the email parser (FUZZTIME each, default 30s)
	$(GO) test ./process/ -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	$(GO) test ./process/ -run '^$$' -fuzz '^FuzzExpr$$' -fuzztime $(FUZZTIME)
	$(GO) test ./process/ -run '^$$' -fuzz '^FuzzParseDuration$$' -fuzztime $(FUZZTIME)
	$(GO) test ./process/ -run '^$$' -fuzz '^FuzzActions$$' -fuzztime $(FUZZTIME)
	$(GO) test ./api/ -run '^$$' -fuzz '^FuzzRequestBodies$$' -fuzztime $(FUZZTIME)
	$(GO) test ./api/ -run '^$$' -fuzz '^FuzzActionBodies$$' -fuzztime $(FUZZTIME)
	$(GO) test ./mailintake/ -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)

BENCH_N ?= 400
BENCH_C ?= 8
BENCH_FLAGS ?=

.PHONY: bench
bench: build ## Load-test: BENCH_N service-request lifecycles at BENCH_C concurrency through the API vs hand-written Temporal code (with an SLA, then without), then the work-order variant (see BENCHMARKS.md)
	./$(BIN) bench --log-level error -n $(BENCH_N) -c $(BENCH_C) $(BENCH_FLAGS)
	./$(BIN) bench --log-level error -n $(BENCH_N) -c $(BENCH_C) --definition bench-plain $(BENCH_FLAGS)
	./$(BIN) bench --log-level error -n $(BENCH_N) -c $(BENCH_C) --kind work-order $(BENCH_FLAGS)

SCALE_N ?= 10000
SCALE_RATE ?= 15

.PHONY: bench-scale
bench-scale: build ## Open SCALE_N service requests with second-scale SLA timers through the API; report memory and that every timer fired on time
	./$(BIN) bench --log-level error --scale $(SCALE_N) -c 16 --rate $(SCALE_RATE) $(BENCH_FLAGS)

# benchstat compares benchmark runs; the Go benchmarks write bench-go.txt (BENCH_OUT).
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da
BENCH_OUT ?= bench-go.txt

.PHONY: bench-go
bench-go: ## Go benchmarks of process/ and api/, 6 runs with allocations, into bench-go.txt; OLD=file compares
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./process/ ./api/ | tee $(BENCH_OUT)
	@! grep -q '^FAIL' $(BENCH_OUT)
	$(GO) run $(BENCHSTAT) $(OLD) $(BENCH_OUT)

SOAK_DURATION ?= 5m

.PHONY: soak
soak: build ## Crash test for SOAK_DURATION: load through the API while worker, api and dev services are SIGKILLed; prints acknowledged, verified, lost, duplicated, kills survived
	./$(BIN) soak --log-level error --duration $(SOAK_DURATION) $(SOAK_FLAGS)

.PHONY: defs
defs: build ## Validate the process definitions in definitions/
	./$(BIN) defs validate definitions

.PHONY: clean
clean: ## Remove bin/ (keeps .fieldflow/, your dev data)
	rm -rf bin
