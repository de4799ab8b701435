# Everyday targets. `make build` runs `sam build`, which calls the build-* targets below
# (BuildMethod: makefile) so Lambda packages keep the repository's import paths.
PYTHON ?= python3
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: install test lint typecheck cfn-lint check bench build clean

install:
	$(PYTHON) -m pip install -e '.[dev]'

test:
	$(PYTHON) -m pytest

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

typecheck:
	$(PYTHON) -m mypy

cfn-lint:
	cfn-lint template.yaml

check: lint typecheck cfn-lint test

bench:
	$(PYTHON) -m bench

build:
	sam build

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
