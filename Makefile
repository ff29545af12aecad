# Two commands set everything up from nothing: `make demo` and `make test`.
# `make check` is the inner loop: lint, types and the tests that need no end-to-end, fault, browser or slow run.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO_PACKAGES := mosquitto=mosquitto
TEST_PACKAGES := mosquitto_sub=mosquitto-clients mosquitto_passwd=mosquitto victoria-metrics=victoria-metrics chromium=chromium
# What `make check` leaves out (markers in pyproject.toml; tests/conftest.py gives e2e and browser by folder).
CHECK_MARKERS := not e2e and not fault and not browser and not slow
# `make test` runs the suite as two rounds that together hold every test (tests/test_markers.py checks it).
SERIAL_MARKERS := e2e or fault
PARALLEL_MARKERS := not e2e and not fault
# pytest-xdist workers: one per core by default; most tests wait on brokers and servers, so more can help.
WORKERS ?= auto

.PHONY: demo test check lint typecheck pytest pytest-check demo-deps test-deps venv bench clean

demo: demo-deps venv
	$(BIN)/atelier demo

test: test-deps venv lint typecheck pytest

check: test-deps venv lint typecheck pytest-check

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy .

# The whole suite in two rounds: what shares the machine well on the xdist workers, then the end-to-end and
# fault tests one at a time (they kill and time real daemons, and a busy neighbour would blur their clocks).
pytest: venv
	$(BIN)/pytest -q -n $(WORKERS) -m "$(PARALLEL_MARKERS)"
	$(BIN)/pytest -q -m "$(SERIAL_MARKERS)"

pytest-check: venv
	$(BIN)/pytest -q -n $(WORKERS) -m "$(CHECK_MARKERS)"

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Atelier needs Python 3.11 or newer; found $$($(PYTHON) --version)"; exit 1; }
	@[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV) || \
		{ echo "Could not create a virtual environment: install python3-venv (apt-get install python3-venv)"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# Debian packages: the demo needs the mosquitto broker; the tests also need its clients (the raw-drain
# baseline), victoria-metrics (a real InfluxDB v2 write API) and chromium (page tests).
demo-deps:
	@scripts/ensure-debian-packages.sh $(DEMO_PACKAGES)

test-deps:
	@scripts/ensure-debian-packages.sh $(DEMO_PACKAGES) $(TEST_PACKAGES)

bench: test-deps venv
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) demo-data .mypy_cache .ruff_cache .pytest_cache
