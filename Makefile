# Patient Service Center — every target works on a fresh machine and says
# what it is doing. `make run` starts the local stack; `make test` runs
# every test and checker CI runs.
SHELL := /bin/bash
# Go 1.27.3, which the go command fetches from the module proxy on first use:
# Go 1.26.8's standard library has reachable vulnerabilities (net/http,
# crypto/tls, crypto/x509; govulncheck in make lint). Every target that
# builds or tests uses it, whatever Go the machine starts with.
export GOTOOLCHAIN := go1.27.3
.DEFAULT_GOAL := help
FUNCTIONS := $(notdir $(wildcard functions/*))
STAGE ?= dev
# One package at a time (-p 1): the end-to-end, fault-run and emulator
# packages each run a local stack, and side by side on two cores they
# starve each other's timing-sensitive tests.
GO_TEST_FLAGS ?= -race -count=1 -timeout 20m -p 1

.PHONY: help tools browser build run test lint unit bench bench-load deploy rehearse clean fhir-export load redrive

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

tools: ## install the pinned tools (.venv: MiniStack, cfn-lint, checkov)
	@bash scripts/tools.sh

browser: ## install Debian's Chromium for the browser tests
	@bash scripts/tools.sh --browser

build: ## build every function as bin/<fn>/bootstrap for provided.al2023 arm64
	@echo "==> building $(words $(FUNCTIONS)) functions for linux/arm64"
	@for fn in $(FUNCTIONS); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags="-s -w" \
	    -o bin/$$fn/bootstrap ./functions/$$fn || exit 1; \
	  echo "    bin/$$fn/bootstrap $$(du -h bin/$$fn/bootstrap | cut -f1)"; \
	done

run: tools ## run the whole system locally (Ctrl-C stops it); FAULTS=plan.json injects faults (docs/reliability.md)
	@echo "==> starting the local stack (stage $(STAGE))"
	@go run ./localstack -stage $(STAGE) $(if $(FAULTS),-faults $(FAULTS))

lint: tools ## repository check, gofmt, go vet, cfn-lint, checkov, govulncheck
	@echo "==> repository: source only"
	@bash scripts/repo-check.sh
	@echo "==> gofmt"
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt wants to rewrite:"; echo "$$out"; exit 1; fi
	@echo "==> go vet"
	@go vet ./...
	@echo "==> cfn-lint infra/template.yaml"
	@.venv/bin/cfn-lint infra/template.yaml
	@echo "==> checkov (config: .checkov.yaml)"
	@.venv/bin/checkov --config-file .checkov.yaml --file infra/template.yaml --quiet --compact
	@echo "==> govulncheck"
	@bash scripts/govulncheck.sh

unit: ## the unit tests only: every package whose tests start no local stack (scripts/unit-packages.sh)
	@go test -count=1 $$(bash scripts/unit-packages.sh)

rehearse: tools build ## the deploy rehearsal: scripts/deploy.sh into a fresh emulator (create, update, delete, create again)
	@go run ./scripts/rehearse

test: tools browser lint rehearse ## every test: unit, emulator integration, end-to-end, browser, -race, the deploy rehearsal
	@echo "==> go test $(GO_TEST_FLAGS) ./... (starts local stacks with MiniStack; browser tests use Chromium)"
	@go test $(GO_TEST_FLAGS) ./...

fhir-export: ## appointments and slots as FHIR R4 NDJSON: make fhir-export FROM=2026-12-01 TO=2026-12-08 (local stack; TABLE=... for AWS)
	@go run ./scripts/fhirexport $(if $(TABLE),-table $(TABLE),-stack .local/stack.json) $(if $(FROM),-from $(FROM)) $(if $(TO),-to $(TO)) -out fhir-export

load: ## a load run against the running stack (make run STAGE=load): PATIENTS=500 AGENTS=20 RATE=25
	@go run ./scripts/loadgen -patients $(or $(PATIENTS),500) -agents $(or $(AGENTS),20) -rate $(or $(RATE),25) -escalate 0.4 -exchanges 3 -capacity 5

bench-load: tools ## the 100-patient load (10 agents, 20/s) on a fresh local stack of its own: latencies, cost, what it left (docs/performance.md)
	@go run ./scripts/loadgen -fresh -patients $(or $(PATIENTS),100) -agents $(or $(AGENTS),10) -rate $(or $(RATE),20) -escalate 0.4 -exchanges 3 -capacity 5 -seed $(or $(SEED),1)

redrive: ## replay what was given up on: make redrive DLQ=BotTurnDLQ, or STREAM_FAILURES=StreamFailureQueue (AWS=1: the account of your credentials, with queue names)
	@go run ./scripts/redrive $(if $(AWS),-aws) $(if $(DLQ),-dlq $(DLQ)) $(if $(STREAM_FAILURES),-stream-failures $(STREAM_FAILURES))

bench: ## the Go benchmarks of the hot paths
	@go test -run '^$$' -bench . -benchmem ./shared/...

deploy: build ## deploy to AWS: make deploy STAGE=dev|test|prod (needs AWS credentials and a region)
	@bash scripts/deploy.sh $(STAGE)

clean: ## remove build output and local state
	@rm -rf bin .local
