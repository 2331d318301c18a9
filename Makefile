# One entry point for everything. Every target installs what it needs into the project's own .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOOLS  := .venv-tools

.DEFAULT_GOAL := help
.PHONY: help venv tools run demo test lint typecheck unit browser template-check build deploy bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

$(STAMP): pyproject.toml dev/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e ./dev
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the project with its dev tools

run: $(STAMP)  ## run the whole bridge locally (embedded AWS + NXCloud simulator) on 127.0.0.1:3000
	$(BIN)/nxbridge run

demo: $(STAMP)  ## start the local stack, post every events/ file, print what happened
	$(BIN)/nxbridge demo

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy (strict) on the runtime and development packages and the function entry points
	$(BIN)/mypy
	for f in functions/*/app.py; do $(BIN)/mypy $$f || exit 1; done

# pytest workers: one per core (pytest-xdist); work stealing, as the chaos and import e2e runs are far longer than the rest.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/pytest -q -n $(PYTEST_WORKERS) --dist worksteal

unit: $(STAMP) browser  ## pytest only
	$(PYTEST)

# The console's browser test drives Debian's Chromium through chromedriver (selenium comes with the dev extra).
browser:  ## install Debian's chromium and chromium-driver when chromedriver is missing
	command -v chromedriver >/dev/null || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)

# The three virtual environments and Chromium are independent: installed side by side on a fresh machine.
tools:  ## install .venv, the SAM and checkov environments and Chromium, in parallel
	$(MAKE) -j4 $(STAMP) $(SAM_STAMP) $(CHECKOV_STAMP) browser

test: tools lint typecheck template-check build browser  ## the whole suite: ruff, mypy, template checks, sam build, pytest
	$(PYTEST)

bench: $(STAMP)  ## benchmarks; figures go to docs/benchmarks.md
	$(BIN)/python -m bench

clean:  ## remove build output and virtual environments
	rm -rf .aws-sam $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache

# ---- AWS: template checks, build, deploy. The SAM CLI (with cfn-lint) and checkov pin conflicting boto3
# versions, so each lives in its own venv under .venv-tools/, created on first use; .venv stays clean.
SAM_VERSION      := 1.170.0
CFN_LINT_VERSION := 1.58.0
CHECKOV_VERSION  := 3.3.30
SAM_ENV          := $(TOOLS)/sam
CHECKOV_ENV      := $(TOOLS)/checkov
SAM_STAMP        := $(SAM_ENV)/.installed-$(SAM_VERSION)-$(CFN_LINT_VERSION)
CHECKOV_STAMP    := $(CHECKOV_ENV)/.installed-$(CHECKOV_VERSION)
SAM              := SAM_CLI_TELEMETRY=0 $(SAM_ENV)/bin/sam
# Validation needs a region but no credentials; deploy asks for yours.
REGION           ?= eu-west-1
LAMBDA_RUNTIME   := $(shell awk '$$1 == "Runtime:" {print $$2; exit}' template.yaml)

$(SAM_STAMP):
	test -x $(SAM_ENV)/bin/python || $(PYTHON) -m venv $(SAM_ENV)
	$(SAM_ENV)/bin/python -m pip install -qq 'aws-sam-cli==$(SAM_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)'
	touch $@

$(CHECKOV_STAMP):
	test -x $(CHECKOV_ENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_ENV)
	$(CHECKOV_ENV)/bin/python -m pip install -qq 'checkov==$(CHECKOV_VERSION)'
	touch $@

template-check: $(SAM_STAMP) $(CHECKOV_STAMP)  ## sam validate --lint, cfn-lint, checkov on template.yaml (offline)
	$(SAM) validate --lint --region $(REGION) --template template.yaml
	$(SAM_ENV)/bin/cfn-lint --include-checks I -- template.yaml
	$(CHECKOV_ENV)/bin/checkov --file template.yaml --framework cloudformation secrets --quiet --compact --skip-download

build: $(SAM_STAMP)  ## sam build (no Docker, no local python3.13), then check the layer's aarch64 wheels
	$(SAM) build
	$(PYTHON) tools/check_layer.py --runtime $(LAMBDA_RUNTIME)

deploy: build  ## sam deploy --guided (asks for stack name, region and parameters; saves them to samconfig.toml)
	$(SAM) deploy --guided
