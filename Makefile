# Entry points for a fresh machine: `make run` starts the bot, `make test` runs the default
# (fast) tests, `make test-slow` the ones marked slow (real weights and data, Ray, a browser,
# schemathesis, real server processes). Each builds the virtual environment first (torch
# before everything else; see README on its CPU and CUDA builds). .ci/run runs both tests targets.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SCALE_STAMP := $(VENV)/.installed-scale

.PHONY: run test test-slow bench venv clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	# torch first, pinned: here pip is configured to serve the CPU wheel; on an ordinary machine
	# this pulls the CUDA build unless the CPU wheel was installed into .venv beforehand (README).
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[demo,test]'
	touch $(STAMP)

# The tests also install the scale extra (Ray Data + Serve, the redis client), so the
# batch-encoding, Redis store and Ray Serve tests run instead of skipping; `make run` does not need it.
$(SCALE_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[scale]'
	touch $(SCALE_STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/python launch.py $(ARGS)

test: $(SCALE_STAMP)
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-slow: $(SCALE_STAMP)
	CONVREC_HARD_EXIT=1 $(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.latency

clean:
	rm -rf $(VENV) artifacts
