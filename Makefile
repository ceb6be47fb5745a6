# The two commands of the README: `make demo` and `make test`. Each creates or reuses .venv and
# installs what it needs; nothing is downloaded at run time.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup demo test gate lint bench clean

setup: $(STAMP)

# torch==2.13.0 first: it is the CPU build (a bare torch requirement pulls a multi-GB CUDA one).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m knowledge.onnx_export >/dev/null  # the embedding model as ONNX, once (~10 s)
	touch $(STAMP)

demo: setup
	$(VENV)/bin/opscopilot demo

test: setup
	$(PY) -m pytest

# The answer-quality regression gate: the eval cases against evals/baseline.json.
gate: setup
	$(PY) -m evals.gate

lint: setup
	$(VENV)/bin/ruff check infra bot tools knowledge evals tests
	$(VENV)/bin/mypy infra bot tools knowledge evals
	$(VENV)/bin/lint-imports  # the layer and no-cycle contracts in pyproject.toml

bench: setup
	$(PY) -m evals.bench_sandbox
	$(PY) -m evals.router_accuracy
	$(PY) -m evals.bench_latency
	$(PY) -m evals.findings_accuracy
	$(PY) -m evals.retrieval_eval
	$(PY) -m evals.bench_kb
	$(PY) -m evals.bench_anomaly
	$(PY) -m evals.bench_anomaly_realworld --files 12
	$(PY) -m evals.bench_logtemplates
	$(PY) -m evals.bench_loghub_like
	$(PY) -m evals.bench_correlation
	$(PY) -m evals.bench_forecast
	$(PY) -m evals.bench_shadow
	$(PY) -m evals.bench_rca
	$(PY) -m evals.bench_runbooks
	$(PY) -m evals.bench_llm
	$(PY) -m evals.bench_slack_load
	$(PY) -m evals.bench_mcp
	$(VENV)/bin/opscopilot eval run -q
	$(VENV)/bin/opscopilot eval table

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
