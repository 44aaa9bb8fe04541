# UniAsset Integrations. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
PORT ?= 3000
ENV ?= default
# Every function's main: functions/<dir>, dir being its logical id without
# "Function", in kebab case (shared/lambdas lists them; a test holds both).
FUNCTIONS := $(notdir $(patsubst %/,%,$(dir $(wildcard functions/*/main.go))))
# Lambda build settings (sam build calls build-<LogicalId>, the rule below).
LAMBDA_ENV := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w" -buildvcs=false

.PHONY: help run test unit lint build bench cost fuzz deploy sweep sweep-aws clean tools moto browser

help: ## List the targets
	@grep -hE '^[a-zA-Z_%-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-30s %s\n", $$1, $$2}'

# infra/moto/server.py patches this moto release's internals: another needs them checked first.
MOTO_VERSION := 5.2.1

tools: moto ## Check moto $(MOTO_VERSION) (importable by python3) and cfn-lint are installed (installs what is missing)
	@command -v cfn-lint >/dev/null || pip install --quiet cfn-lint || { echo "cfn-lint is required (pip install cfn-lint)"; exit 1; }

moto: ## Check moto $(MOTO_VERSION) is importable by python3 (installs it if missing); all make run needs besides Go
	@python3 -c 'import moto.server, moto; assert moto.__version__ == "$(MOTO_VERSION)"' 2>/dev/null || pip install --quiet 'moto[server]==$(MOTO_VERSION)' || { echo "moto $(MOTO_VERSION) is required (pip install 'moto[server]==$(MOTO_VERSION)')"; exit 1; }

browser: ## Check Chromium, curl and node are installed for the Developer Guide tests (installs them with apt-get)
	@command -v node >/dev/null && command -v curl >/dev/null || \
	  { command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs curl >/dev/null); } || \
	  { echo "node and curl are required to run the Developer Guide's snippets (apt-get install nodejs curl)"; exit 1; }
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || \
	  { command -v apt-get >/dev/null && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); } || \
	  { echo "Chromium is required for the Developer Guide page test (apt-get install chromium)"; exit 1; }

run: moto ## Run the whole system locally on http://127.0.0.1:$(PORT) (moto unless AWS_ENDPOINT_URL is set)
	@# Built, then exec'd: make passes a SIGTERM on to its child, and go run
	@# would not pass it on to the stack (which would keep moto running).
	$(GO) build -o .local/bin/local ./infra/local
	PORT=$(PORT) WEBHOOK_ALLOW_PRIVATE=$${WEBHOOK_ALLOW_PRIVATE:-true} exec .local/bin/local

test: tools browser ## Run every test (unit and end to end against moto) with the race detector
	$(GO) test -race -count=1 -timeout 25m ./...

unit: ## Unit tests only: every package but the end-to-end tests (shared/e2e), no moto, seconds
	$(GO) test -count=1 $$($(GO) list ./... | grep -v /shared/e2e)

lint: tools ## gofmt, go vet and cfn-lint
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	cfn-lint template.yaml

build: ## Build every Lambda's bootstrap into bin/<function>/ (linux/arm64)
	@for f in $(FUNCTIONS); do \
	  $(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o bin/$$f/bootstrap ./functions/$$f || exit 1; \
	  ls -l bin/$$f/bootstrap | awk '{printf "%-40s %6.1f MiB\n", $$9, $$5/1048576}'; \
	done

build-%: ## (sam build) a function, by logical id (build-DispatcherFunction), into $(ARTIFACTS_DIR)
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(ARTIFACTS_DIR)/bootstrap \
	  ./functions/$$(echo '$*' | sed -E 's/Function$$//; s/([a-z0-9])([A-Z])/\1-\2/g' | tr A-Z a-z)

# Fuzz targets, package:Target. Their seed corpora run in `make test`.
FUZZ_TARGETS := shared/httpapi:FuzzDecodeStrict shared/redact:FuzzRedact shared/safehttp:FuzzRefused \
	shared/safehttp:FuzzCheckURL shared/delivery:FuzzSignatureVerification
FUZZTIME ?= 1m

fuzz: ## Run every fuzz target for FUZZTIME each (default 1m; FUZZTIME=10m for a real run)
	@for t in $(FUZZ_TARGETS); do \
	  pkg=$${t%%:*}; name=$${t##*:}; echo "== $$name ($$pkg, $(FUZZTIME))"; \
	  $(GO) test ./$$pkg -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

WRITES ?= 10000000
WEBHOOKS ?= 1
FAILING ?= 0.01
ALERTS ?= 10000
ENTRA_TENANTS ?= 10
RETENTION_DAYS ?= 0
cost: ## Price a month on AWS from the last cost bench (WRITES=, WEBHOOKS=, FAILING=, ALERTS=, ENTRA_TENANTS=, RETENTION_DAYS=)
	@$(GO) run ./infra/bench -model -writes $(WRITES) -webhooks $(WEBHOOKS) -failing $(FAILING) -alerts $(ALERTS) -entra-tenants $(ENTRA_TENANTS) -retention-days $(RETENTION_DAYS)

bench: tools ## Measure (Go benchmarks, load against moto, cold start) and write BENCHMARKS.md
	$(GO) run ./infra/bench -out BENCHMARKS.md

deploy: ## sam build && sam deploy (ENV=default|prod, see samconfig.toml)
	sam build && sam deploy --config-env $(ENV)

sweep: ## Sweep DeliveryDLQ and StreamDLQ now on the local stack (make run must be running)
	$(GO) run ./infra/local sweep --port $(PORT)

# The stack's own sweeps, invoked now rather than at their next 15-minute tick.
STACK_NAME = $$(sed -n '/^\[$(ENV)\.global\.parameters\]/,/^\[/s/^stack_name = "\(.*\)"/\1/p' samconfig.toml)
sweep-aws: ## Sweep DeliveryDLQ and StreamDLQ now in AWS (ENV=default|prod); prints what each did
	@out=$$(mktemp); trap 'rm -f $$out' EXIT; \
	for fn in DispatcherFunction:DeliveryDLQ StreamRouterFunction:StreamDLQ; do \
	  name=$$(aws cloudformation describe-stack-resource --stack-name $(STACK_NAME) --logical-resource-id $${fn%%:*} \
	    --query StackResourceDetail.PhysicalResourceId --output text) || exit 1; \
	  failed=$$(aws lambda invoke --function-name $$name --cli-binary-format raw-in-base64-out \
	    --payload '{"sweep":"'$${fn##*:}'"}' --query FunctionError --output text $$out) || exit 1; \
	  echo "$${fn##*:}: $$(cat $$out)"; \
	  if [ "$$failed" != "None" ]; then echo "$${fn%%:*} failed ($$failed)"; exit 1; fi; \
	done

clean: ## Remove build output and local state
	rm -rf bin .aws-sam .local
