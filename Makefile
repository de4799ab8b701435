# Everyday targets. `make build` runs `sam build`, which calls the build-* targets below
# (BuildMethod: makefile) so Lambda packages keep the repository's import paths.
#
# Everything runs in the project's own virtual environment ($(VENV)), made with $(PYTHON) and
# remade when pyproject.toml changes or another Python is asked for (scripts/venv.sh).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY ?= 0

.PHONY: venv install test lint typecheck cfn-lint checkov check bench reliability build sam-cli clean run demo \
	build-DependenciesLayer build-CallPathLayer build-SmaFunction build-DeployHelperFunction build-BotFunction build-ExpiryFunction \
	build-NotifierFunction build-ConnectFunction build-ContactEventsFunction build-DigestFunction \
	build-TranscriptsFunction

# Every user-facing target makes sure of the environment first (a quick check once it is there),
# so `make demo` and `make test` work on a fresh clone, with any Python >= 3.11.
STAMP := venv

venv:
	@bash scripts/venv.sh "$(PYTHON)" "$(VENV)"

install: venv

# One run: bot.app reads its environment once per process, and test_notifier.py imports its own
# bot.app (and gives it back) so the notifier's tests and the bot's share a process safely.
test: $(STAMP)
	$(PY) -m pytest

run: $(STAMP)
	$(PY) -m switchboard.cli dev

demo: $(STAMP)
	$(PY) -m switchboard.cli demo

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(STAMP)
	$(PY) -m mypy

cfn-lint: $(STAMP)
	$(VENV)/bin/cfn-lint template.yaml

# IaC scan: fails on any failed check. Checks that do not fit are skipped in the resource's
# Metadata with a reason (docs/security.md). BC_SKIP_MAPPING: no download of Prisma guidelines.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	@touch $@

checkov: $(CHECKOV_VENV)/.installed
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation \
		--quiet --compact --skip-download

check: lint typecheck cfn-lint checkov test

# Results go to .bench/ (ignored); `make bench RECORD=1` writes the recorded figures in
# bench/results/ on purpose (docs/performance.md quotes them).
BENCH_OUT := $(if $(RECORD),bench/results,.bench)
bench: $(STAMP)
	@mkdir -p $(BENCH_OUT)
	$(PY) -m bench --json $(BENCH_OUT)/sma.json
	$(PY) -m bench.seed --json $(BENCH_OUT)/seed.json
	$(PY) -m bench.bot --json $(BENCH_OUT)/bot.json
	$(PY) -m bench.connect --json $(BENCH_OUT)/connect.json
	$(PY) -m bench.voicemail --json $(BENCH_OUT)/voicemail.json
	$(PY) -m bench.people --json $(BENCH_OUT)/people.json

# Fuzz, races, forged requests, toll fraud and load: prints the figures, rewrites docs/reliability.md.
reliability: $(STAMP)
	$(PY) -m reliability

# The AWS SAM CLI: the one on PATH if there is one, else the pinned one in its own virtualenv
# (.venv-sam, like checkov: its many pinned dependencies stay out of the project's), which
# `make sam-cli` installs. tests/functional/test_lambda_packages.py uses the same (.ci/run installs it).
SAM_VENV := .venv-sam
SAM ?= $(shell command -v sam 2>/dev/null)
$(SAM_VENV)/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	@touch $@

sam-cli: $(SAM_VENV)/.installed

build: venv $(if $(SAM),,sam-cli)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(or $(SAM),$(SAM_VENV)/bin/sam) build

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis .make $(VENV) $(CHECKOV_VENV) $(SAM_VENV)

# --- sam build (BuildMethod: makefile) --------------------------------------------------------
# `sam build` runs these with ARTIFACTS_DIR set to the function's or layer's package directory.
# Packages keep the repository's import paths, so handler strings equal the module paths.

# Layers: runtime dependencies as pure-Python wheels for Lambda python3.12 on arm64 (boto3 is in
# the runtime). --no-compile: pip would compile with this Python; COMPILE_FOR_LAMBDA below only
# compiles for the runtime's. DependenciesLayer: the bot's functions. CallPathLayer: the SMA and
# Connect functions, only what they import (tzdata): a cold call does not fetch and unpack Slack,
# phonenumbers or Powertools.
LAMBDA_PYTHON := 3.12
LAYER_PIP := $(PYTHON) -m pip install --quiet --disable-pip-version-check --no-compile \
	--platform manylinux2014_aarch64 --only-binary=:all: --python-version $(LAMBDA_PYTHON) --implementation cp
# Bytecode: Lambda's /var/task is read-only, so a package without it compiles every module it
# imports on each cold start (~20 ms of the SIP media application's, docs/performance.md). Bytecode
# is valid only for the Python version that wrote it: a build whose $(PYTHON) is the runtime's
# (LAMBDA_PYTHON, the template's Runtime) ships it, unchecked against the sources' times (a zip
# keeps none worth trusting); any other build ships the sources alone.
COMPILE_FOR_LAMBDA = if $(PYTHON) -c 'import sys; sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" != "$(LAMBDA_PYTHON)")'; \
	then $(PYTHON) -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(1)"; fi

build-DependenciesLayer:
	$(LAYER_PIP) --requirement requirements/lambda.txt --target "$(ARTIFACTS_DIR)/python"
	$(call COMPILE_FOR_LAMBDA,$(ARTIFACTS_DIR)/python)

build-CallPathLayer:
	$(LAYER_PIP) --requirement requirements/call-path.txt --target "$(ARTIFACTS_DIR)/python"
	$(call COMPILE_FOR_LAMBDA,$(ARTIFACTS_DIR)/python)

# PSTN Audio handler: sma/ and the shared library (the local stack is switchboard_local/, not copied).
build-SmaFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R sma switchboard "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" \( -name __pycache__ -o -name '*.py[co]' \) -prune -exec rm -rf {} +
	$(call COMPILE_FOR_LAMBDA,$(ARTIFACTS_DIR))

# Slack bot, expiry job, notifier, digest and transcripts: bot/ and the shared library.
build-BotFunction build-ExpiryFunction build-NotifierFunction build-DigestFunction build-TranscriptsFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R bot switchboard "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" \( -name __pycache__ -o -name '*.py[co]' \) -prune -exec rm -rf {} +
	$(call COMPILE_FOR_LAMBDA,$(ARTIFACTS_DIR))

# Amazon Connect contact-flow Lambda: connect_lambda/ and the shared library.
build-ConnectFunction build-ContactEventsFunction:
	mkdir -p "$(ARTIFACTS_DIR)"
	cp -R connect_lambda switchboard "$(ARTIFACTS_DIR)/"
	find "$(ARTIFACTS_DIR)" \( -name __pycache__ -o -name '*.py[co]' \) -prune -exec rm -rf {} +
	$(call COMPILE_FOR_LAMBDA,$(ARTIFACTS_DIR))

# Custom resources: deploy/, the shared library (the SIP media application's Delete hands numbers
# back with the bot's own routing code; no layer: it needs only boto3) and the default prompts
# (the SIP media application's PCM files and Amazon Connect's u-law copies).
build-DeployHelperFunction:
	mkdir -p "$(ARTIFACTS_DIR)/prompts/connect"
	cp -R deploy switchboard "$(ARTIFACTS_DIR)/"
	cp prompts/*.wav "$(ARTIFACTS_DIR)/prompts/"
	cp prompts/connect/*.wav "$(ARTIFACTS_DIR)/prompts/connect/"
	find "$(ARTIFACTS_DIR)" \( -name __pycache__ -o -name '*.py[co]' \) -prune -exec rm -rf {} +
	$(call COMPILE_FOR_LAMBDA,$(ARTIFACTS_DIR))
