# One entry point for tools, tests, lint and benchmarks. Tools are pinned and installed into
# .tools/ (git-ignored); each is rebuilt only when its pinned version changes.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c

TOOLS := $(CURDIR)/.tools
BIN   := $(TOOLS)/bin

TEMPORAL_VERSION    := v1.5.1
VERSITYGW_VERSION   := v1.8.0
DYNALITE_VERSION    := 4.0.0
STATICCHECK_VERSION := v0.8.2
ACTIONLINT_VERSION  := v1.7.12
GOAWS_VERSION       := v0.4.5
AXE_CORE_VERSION    := 4.14.1

export PATH := $(BIN):$(TOOLS)/node_modules/.bin:$(PATH)

# go test's own vet pass is off: `make lint` runs go vet over every package. Binaries are
# linked without DWARF and the symbol table (stack traces come from the runtime's own tables):
# the linker's time on the test binaries and the tools is part of `make test` on a new machine.
LDFLAGS       := -ldflags=-s -w
GO_TEST_FLAGS ?= -count=1 -timeout 14m -vet=off "$(LDFLAGS)"

.PHONY: tools test-tools forget-missing-tools test test-race check-test-log test-dates test-deploy synth lint soak bench bench-visitors bench-requests bench-dashboard fmt clean-tools demo dev
.NOTPARALLEL:

# Stamps record the installed version; a stamp whose binary is gone is forgotten first.
TEST_TOOL_STAMPS := $(TOOLS)/.temporal-$(TEMPORAL_VERSION) $(TOOLS)/.versitygw-$(VERSITYGW_VERSION) \
                    $(TOOLS)/.dynalite-$(DYNALITE_VERSION) $(TOOLS)/.goaws-$(GOAWS_VERSION) \
                    $(TOOLS)/.axe-core-$(AXE_CORE_VERSION)
LINT_TOOL_STAMPS := $(TOOLS)/.staticcheck-$(STATICCHECK_VERSION) $(TOOLS)/.actionlint-$(ACTIONLINT_VERSION)

tools: test-tools $(LINT_TOOL_STAMPS)

# What the tests run. Chromium (Debian's packages) installs, and the project's modules
# download, while the Go tools compile: network and disk beside CPU. (Compiling the project's
# packages there too only moved CPU from the tools to them: 1,298 s from nothing, not less.)
# Their output goes to .tools/*.log and shows only when they fail.
test-tools: forget-missing-tools
	@mkdir -p $(TOOLS)
	@$(MAKE) --no-print-directory chromium >$(TOOLS)/chromium.log 2>&1 & apt=$$!; \
	  go list -deps -test ./... ./deploy/cdk/... >/dev/null 2>$(TOOLS)/modules.log & mods=$$!; \
	  $(MAKE) --no-print-directory $(TEST_TOOL_STAMPS); \
	  wait $$apt || { cat $(TOOLS)/chromium.log; exit 1; }; \
	  wait $$mods || { cat $(TOOLS)/modules.log; exit 1; }

forget-missing-tools:
	@for t in temporal versitygw staticcheck actionlint goaws; do [ -x $(BIN)/$$t ] || rm -f $(TOOLS)/.$$t-*; done
	@[ -x $(TOOLS)/node_modules/.bin/dynalite ] || rm -f $(TOOLS)/.dynalite-*
	@[ -f $(TOOLS)/node_modules/axe-core/axe.min.js ] || rm -f $(TOOLS)/.axe-core-*

$(TOOLS)/.temporal-$(TEMPORAL_VERSION):
	@echo "installing temporal CLI $(TEMPORAL_VERSION) (first build takes a few minutes)"
	GOBIN=$(BIN) go install "$(LDFLAGS)" github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_VERSION)
	@touch $@

$(TOOLS)/.versitygw-$(VERSITYGW_VERSION):
	GOBIN=$(BIN) go install "$(LDFLAGS)" github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	@touch $@

$(TOOLS)/.dynalite-$(DYNALITE_VERSION):
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error dynalite@$(DYNALITE_VERSION)
	@touch $@

# axe-core (MPL-2.0) for the dashboard's accessibility check in headless Chromium.
$(TOOLS)/.axe-core-$(AXE_CORE_VERSION):
	npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error axe-core@$(AXE_CORE_VERSION)
	@touch $@

# goaws (SNS and SQS emulator, MIT) for the alert test; its main package builds a binary
# named cmd, renamed here.
$(TOOLS)/.goaws-$(GOAWS_VERSION):
	GOBIN=$(TOOLS)/goaws-build go install "$(LDFLAGS)" github.com/Admiral-Piett/goaws/app/cmd@$(GOAWS_VERSION)
	mkdir -p $(BIN) && mv $(TOOLS)/goaws-build/cmd $(BIN)/goaws && rmdir $(TOOLS)/goaws-build
	@touch $@

# The dashboard's browser test drives headless Chromium from Debian's packages (as root, or
# through sudo); the test runs this target itself when chromium is missing.
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || { echo "installing chromium from Debian's packages"; \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

$(TOOLS)/.staticcheck-$(STATICCHECK_VERSION):
	GOBIN=$(BIN) go install "$(LDFLAGS)" honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@touch $@

$(TOOLS)/.actionlint-$(ACTIONLINT_VERSION):
	GOBIN=$(BIN) go install "$(LDFLAGS)" github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	@touch $@

# Every test, with the servers the tests start themselves (they find the tools on PATH). The
# output names each test that ran; a skipped test fails the run, since it proves nothing.
#
# Every package runs without the race detector here, up to TEST_P packages at once (most wait
# on servers more than they compute). RACE_PKGS, those whose goroutines share memory in the
# test's own process (the Wistia client and its rate limiter with the simulator in-process,
# the HTTP server, the lake's merges, the activities, ingest, metrics, the dashboard, the
# demo), run again under it in `make test-race`, which CI runs after `make test`: compiling
# the standard library and those packages' imports a second time with -race, and running the
# lake's merges several times slower, took `make test` past 20 minutes on a 2-core machine.
RACE_PKGS       := ./wistia ./internal/httpserve ./lake/... ./activities ./ingest ./internal/metrics ./internal/dashboard ./cmd/demo
# LONG_PKGS wait longest on their servers (dev servers and worker processes): an invocation of
# their own starts their tests as soon as they are compiled, not after the other packages'.
LONG_PKGS       := ./workflows
# FIRST_PKGS lead the other invocation's list, which go test follows when it picks what to
# build and run next: the CDK app's compile (the CDK's bindings are large) and the package
# that runs longest, so neither is left to finish alone after the rest.
# HEAVY_PKGS have make targets of their own and stay out of `make test`: the soak (`make soak`,
# which CI runs after it).
HEAVY_PKGS      := ./internal/soak
FIRST_PKGS      := ./deploy/cdk/... ./lake
TEST_P          ?= 3
FILTER          := grep --line-buffered -vE '^(=== (RUN|PAUSE|CONT|NAME)|\s+--- PASS)'
TEST_LOGS       := .data/test-long.log .data/test-plain.log
test: test-tools
	@mkdir -p .data
	@# The long packages' imports compile once, on both cores, before the two invocations start:
	@# at once, both would compile the libraries they share (Temporal, Iceberg, Arrow, AWS) twice.
	@go list -export -deps -test $(LONG_PKGS) >/dev/null
	@long=$$(go list $(LONG_PKGS)); plain=$$(go list $(FIRST_PKGS) ./... | grep -vxF "$$long" | grep -vxF "$$(go list $(HEAVY_PKGS))"); \
	  { go test -v $(GO_TEST_FLAGS) $$long 2>&1 | tee .data/test-long.log | $(FILTER) || true; } & \
	  { go test -p $(TEST_P) -v $(GO_TEST_FLAGS) $$plain 2>&1 | tee .data/test-plain.log | $(FILTER) || true; }; \
	  wait
	@cat $(TEST_LOGS) >.data/test.log
	@$(MAKE) --no-print-directory check-test-log LOGS="$(TEST_LOGS)"

# The packages of RACE_PKGS under the race detector (CI runs this after `make test`).
test-race: test-tools
	@mkdir -p .data
	@go test -race -v $(GO_TEST_FLAGS) $(RACE_PKGS) 2>&1 | tee .data/test-race.log | $(FILTER) || true
	@$(MAKE) --no-print-directory check-test-log LOGS=.data/test-race.log

# Test logs pass when each has results, and none a failure or a skipped test.
check-test-log:
	@if grep -E -- '--- SKIP' $(LOGS); then echo "skipped tests above: install what they need (make tools)"; exit 1; fi
	@if grep -qE '^(--- FAIL|FAIL|panic:)' $(LOGS); then echo "tests failed"; exit 1; fi
	@for log in $(LOGS); do grep -qE '^ok ' $$log || { echo "$$log: no package passed"; exit 1; }; done

# The calendar-sensitive tests (those on testenv.Today: every clock their own) as if on each
# day from TEST_DATES_FROM to TEST_DATES_TO. The default range holds the autumn and spring
# daylight-saving changes of New York and London, month ends, a year's end and 29 February.
# Not part of `make test`: about a quarter of an hour.
TEST_DATES_FROM ?= 2027-10-29
TEST_DATES_TO   ?= 2028-03-28
test-dates:
	internal/testenv/test-dates.sh $(TEST_DATES_FROM) $(TEST_DATES_TO)

# The CDK app's tests alone (deploy/cdk, its own module in go.work; `make test` runs them too):
# they synthesize the stacks on node and check the templates. Without -race: the CDK's Go
# bindings take minutes to compile with it, and the app is single-threaded calls into jsii.
test-deploy:
	go test -v $(GO_TEST_FLAGS) ./deploy/cdk/...

# The CloudFormation templates, offline, in deploy/cdk/cdk.out.
synth:
	go run ./deploy/cdk

# The whole pipeline on this machine, on embedded defaults: the Temporal dev server and Web UI,
# the Wistia simulator (or WISTIA_API_TOKEN's account), a worker; ingests the last DEMO_DAYS
# days, prints a summary from gold, and stops everything. State lives in DATA_DIR (./.data).
demo: forget-missing-tools $(TOOLS)/.temporal-$(TEMPORAL_VERSION)
	@go run ./cmd/demo

# The same stack, kept running until Ctrl-C.
dev: forget-missing-tools $(TOOLS)/.temporal-$(TEMPORAL_VERSION)
	@go run ./cmd/demo --dev

lint: tools
	@unformatted=$$(gofmt -l $$(git ls-files '*.go'; git ls-files --others --exclude-standard '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "not gofmt-clean:"; echo "$$unformatted"; exit 1; fi
	go vet ./... ./deploy/cdk/...
	staticcheck ./... ./deploy/cdk/...
	actionlint

# A week of production days with faults on the real stack (internal/soak): about a quarter of
# an hour, after `make test` in CI. SOAK_SEED reruns a week's faults; SOAK_RECORD=1
# writes the report to docs/soak.md.
soak: tools
	SOAK_DAYS=7 go test -v -count=1 -timeout 40m -run '^TestSoak$$' ./internal/soak

bench: tools
	go test -run '^$$' -bench . -skip 'AtBudget|DailyRunRequests|DashboardYear' -benchmem -benchtime 1x $(BENCH_FLAGS) ./...

# A day's visitor fetch at Wistia's real budget (600/min): about a quarter of an hour.
bench-visitors:
	go test -run '^$$' -bench 'VisitorsOneDayAtBudget' -benchtime 1x -timeout 40m ./ingest

# One catch-up daily run of 10,000 medias (BENCH_MEDIAS), 15% watched on the day, on the dev
# server: its API requests by endpoint against the fewest the data needs, their time at
# Wistia's 600 a minute, and the orchestration's ms per media and history sizes.
bench-requests: test-tools
	go test -run '^$$' -bench 'DailyRunRequests' -benchtime 1x -timeout 60m ./workflows

# The dashboard on a year of gold (365 days × 2,000 medias, written straight to gold): p50/p95
# of each API endpoint for the default range and the year, warm, cold after a run's commit and
# at start, the first render of each page in headless Chromium, and the heap it keeps. The
# figures are in docs/performance.md.
bench-dashboard: test-tools
	go test -run '^$$' -bench 'DashboardYear' -benchtime 1x -timeout 30m ./internal/dashboard

# Our transform against DuckDB on the same seeded bronze, each side in a process of its own
# (bench/peer: a module of its own, built only with the duckdb tag; cgo). See
# bench/peer/README.md; the figures are in docs/performance.md.
PEER_FLAGS ?= -events 1000000
.PHONY: bench-peer
bench-peer:
	go run -tags duckdb ./bench/peer $(PEER_FLAGS)

# The live contract check against the real API of WISTIA_API_TOKEN's account (read-only, a
# handful of requests, under 1% of the hourly budget): each answer is validated against
# Wistia's OpenAPI spec and typed by the tolerant decoder. Not part of `make test`; CI runs it
# nightly (.github/workflows/nightly-contract.yml).
.PHONY: contract-live
contract-live:
	@if [ -z "$${WISTIA_API_TOKEN:-}" ]; then \
	  echo "contract-live: WISTIA_API_TOKEN is not set; it checks the live Wistia API and needs a (read-only) API token" >&2; exit 2; fi
	go run ./cmd/contract

fmt:
	gofmt -w $$(git ls-files '*.go')

clean-tools:
	rm -rf $(TOOLS)
