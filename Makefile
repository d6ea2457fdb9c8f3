# Two commands on a fresh machine: `make run` and `make test`. Everything installs into .venv from uv.lock.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
UV_VERSION := 0.13.8
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: install run test test-pg contract monitoring lint fmt bench ci clean

$(UV):
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --inexact --quiet
	@touch $@

install: $(VENV)/.installed ## install the plane and its tools into .venv (seconds, from uv.lock)

run: install ## start the plane on 127.0.0.1:8700 with SQLite and the three services (and Prometheus + Alertmanager when installed)
	$(BIN)/opsctl up

test: install ## run the test suite (SQLite; PostgreSQL too when CONTROLPLANE_TEST_DATABASE_URL is set)
	$(BIN)/pytest -m "not contract"

test-pg: install ## run every database-facing test again against a throwaway PostgreSQL cluster
	pg_virtualenv sh -c 'CONTROLPLANE_TEST_DATABASE_URL="postgresql+psycopg://$$PGUSER:$$PGPASSWORD@$$PGHOST:$$PGPORT/postgres" $(CURDIR)/$(BIN)/pytest -m "not browser and not contract" tests --ignore=tests/services --ignore=tests/adapters --ignore=tests/monitoring'

monitoring: install ## only the tests against a real Alertmanager (make test runs them too; skipped when it is not installed)
	$(BIN)/pytest -m monitoring tests/monitoring

contract: install ## fuzz a served plane against its OpenAPI document (schemathesis, every check)
	$(BIN)/pytest -m contract tests/contract

lint: install ## ruff, formatting, mypy (strict on controlplane/) and import-linter layer contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy controlplane
	$(BIN)/lint-imports

fmt: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install ## run every benchmark and rewrite bench/RESULTS.md (needs wrk: apt-get install wrk)
	$(BIN)/python bench/run_all.py

ci: lint test contract

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
