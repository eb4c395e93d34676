# Everything a fresh machine needs: `make run` and `make test` do their own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# pytest-xdist worker processes (0: one process); a module's tests stay together on one
# worker, as they share its servers.
TEST_WORKERS ?= 2

# The stores the suite runs its store-touching tests on (tests/support/stores.py): SQLite and a
# throwaway PostgreSQL cluster that the tests start from Debian's postgresql package.
TACKBRIDGE_TEST_STORES ?= sqlite,postgres
export TACKBRIDGE_TEST_STORES
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends

.PHONY: run test lint typecheck unit setup clean bench browser postgres

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/tackbridge dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy src

# The browser tests drive Debian's chromium through Playwright (never a downloaded browser).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { \
		echo "installing Debian's chromium for the browser tests"; \
		apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium; }

# PostgreSQL's server binaries (initdb, pg_ctl), installed when missing and asked for.
postgres:
ifneq (,$(findstring postgres,$(TACKBRIDGE_TEST_STORES)))
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "installing PostgreSQL (apt-get install postgresql)"; \
		$(APT_INSTALL) postgresql || { apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		$(APT_INSTALL) postgresql; }; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
		echo "PostgreSQL is missing: install Debian's postgresql package" >&2; exit 1; }
endif

unit: $(STAMP) browser postgres
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadscope

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
