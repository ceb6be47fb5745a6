# The two commands of the README: `make demo` and `make test`. Each creates or reuses .venv and
# installs what it needs; nothing is downloaded at run time.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

# torch==2.13.0 first: it is the CPU build (a bare torch requirement pulls a multi-GB CUDA one).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(VENV)/bin/opscopilot demo

test: setup
	$(PY) -m pytest

lint: setup
	$(VENV)/bin/ruff check bot tools knowledge evals tests
	$(VENV)/bin/mypy bot tools knowledge evals

bench: setup
	$(PY) -m evals.bench_sandbox
	$(PY) -m evals.router_accuracy
	$(PY) -m evals.bench_latency
	$(PY) -m evals.findings_accuracy
	$(PY) -m evals.retrieval_eval
	$(PY) -m evals.bench_kb

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
