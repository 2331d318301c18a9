# One entry point for everything. Every target installs what it needs into the project's own .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TOOLS  := .venv-tools

.DEFAULT_GOAL := help
.PHONY: help venv run demo test lint typecheck unit template-check build deploy bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s "$$(printf '\t')"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)  ## create .venv and install the project with its dev tools

run: $(STAMP)  ## run the whole bridge locally (embedded AWS + NXCloud simulator) on 127.0.0.1:3000
	$(BIN)/nxbridge run

demo: $(STAMP)  ## start the local stack, post every events/ file, print what happened
	$(BIN)/nxbridge demo

lint: $(STAMP)  ## ruff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy (strict) on the shared package and the handlers
	$(BIN)/mypy
	for f in functions/*/app.py; do $(BIN)/mypy $$f || exit 1; done

unit: $(STAMP)  ## pytest only
	$(BIN)/pytest -q

test: lint typecheck  ## the whole suite: ruff, mypy, template checks, pytest
	$(BIN)/pytest -q

bench: $(STAMP)  ## benchmarks; figures go to docs/benchmarks.md
	$(BIN)/python -m bench

clean:  ## remove build output and virtual environments
	rm -rf .aws-sam $(VENV) $(TOOLS) .mypy_cache .pytest_cache .ruff_cache
