# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app app
PORT ?= 5000

.PHONY: run test lint format bench bench-load clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

## run: create the venv, install, migrate, load the demo on first run, serve on 127.0.0.1:$(PORT) (default 5000)
## with the scheduled jobs beside it (tick every minute, daily once a day); Ctrl-C stops both.
## PORT also sets the port of the links the app sends out, unless CSRN_BASE_URL is set.
run: $(VENV)/.installed
	PORT=$(PORT) $(FLASK) db upgrade
	PORT=$(PORT) $(FLASK) csrn seed-demo --if-empty
	@echo
	@if [ -f instance/demo-logins.txt ]; then cat instance/demo-logins.txt; fi
	@echo
	@echo "CSRN is serving on http://127.0.0.1:$(PORT) (Ctrl-C stops the server and its jobs)"
	@echo "The mail the demo sends: http://127.0.0.1:$(PORT)/dev/mailbox/ (development only)"
	PORT=$(PORT) exec $(FLASK) csrn serve-dev --host 127.0.0.1 --port $(PORT)

## test: the whole suite (SQLite; PostgreSQL instead when TEST_DATABASE_URL is set)
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## lint: ruff, and the module boundaries (import-linter contracts in pyproject.toml)
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run.py

## bench-load: the app under gunicorn and wrk beside a bare Flask page (bench/load.py); a subset with e.g.
##   make bench-load LOAD_ARGS="--pages search,account --db sqlite --duration 5 --connections 16"
bench-load: $(VENV)/.installed-dev
	$(BIN)/python bench/load.py $(LOAD_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
