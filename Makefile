# credit-panorama: `make run` (demo end to end through Airflow) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ENTITIES ?= 20000
SEED ?= 20240101
AIRFLOW_PORT ?= 8080

export AIRFLOW_HOME ?= $(CURDIR)/.airflow
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: setup run test airflow bench bench-serve lint clean browser-deps java-deps

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/panorama demo --entities $(ENTITIES) --seed $(SEED)

# The credit code service's browser test drives Debian's Chromium (Playwright, system browser)
# and needs a CJK font; installed from Debian's packages when missing (a no-op otherwise).
BROWSER_DEPS := chromium chromium-driver fonts-noto-cjk
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
SUDO := $(shell test "$$(id -u)" = 0 || echo sudo)

browser-deps:
	@if [ -x /usr/bin/chromium ] && [ -f $(CJK_FONT) ]; then :; else \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends \
	    $(BROWSER_DEPS); fi

# The Spark engine (and its tests) needs a Java 17 runtime; Debian's when none is on the PATH.
java-deps:
	@if command -v java >/dev/null; then :; else \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends \
	    openjdk-17-jre-headless; fi

test: $(STAMP) browser-deps java-deps
	$(BIN)/python -m pytest -q

airflow: $(STAMP)
	$(BIN)/panorama airflow --port $(AIRFLOW_PORT)

# Benchmarks (minutes, not part of the tests): extraction per format at 1M rows, then the whole
# pipeline stage by stage. BENCH_ENTITIES=1000000 for the city tier.
BENCH_ENTITIES ?= 100000
BENCH_RUNS ?= 3
bench: $(STAMP)
	$(BIN)/panorama bench extract 1000000
	$(BIN)/panorama bench pipeline --entities $(BENCH_ENTITIES) --runs $(BENCH_RUNS)

# The credit code service under load (on a copy of the publication in place; `make run` first).
bench-serve: $(STAMP)
	$(BIN)/panorama bench serve --clients 200 --seconds 30

lint: $(STAMP)
	$(BIN)/ruff check plugins dags tests

clean:
	rm -rf data .airflow dbt_project/target dbt_project/logs
