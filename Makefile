# The two commands of the README:
#   make run    set up, load demo data and run web + worker + beat on the embedded default
#   make test   set up and run the whole test suite against PostgreSQL and Redis

PYTHON ?= $(shell pyenv which python3.13 2>/dev/null || command -v python3.13 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum requirements.txt | cut -d' ' -f1)

# The test suite's services; override any of them from the environment.
PG_SUPERUSER_URL ?= postgres://postgres@127.0.0.1:5432/postgres
TEST_DATABASE_URL ?= postgres://itsm_app@127.0.0.1:5432/itsm
TEST_DATABASE_OWNER_URL ?= postgres://itsm_owner@127.0.0.1:5432/itsm
TEST_DATABASE_PLATFORM_URL ?= postgres://itsm_platform@127.0.0.1:5432/itsm
TEST_BROKER_URL ?= redis://127.0.0.1:6379/15
TEST_ENV := DEBUG=false SECRET_KEY=test-only-secret-key-that-is-long-enough-for-debug-off-0123456789 \
	DATABASE_URL=$(TEST_DATABASE_URL) DATABASE_OWNER_URL=$(TEST_DATABASE_OWNER_URL) \
	DATABASE_PLATFORM_URL=$(TEST_DATABASE_PLATFORM_URL) \
	CELERY_BROKER_URL=$(TEST_BROKER_URL) CACHE_URL=locmemcache://
PYTEST_ARGS ?=

.PHONY: setup browser run demo test screenshots lint format lock clean

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

# Debian's Chromium for the browser tests (tests/e2e), which Playwright drives; Playwright never
# downloads a browser of its own. Nothing to do when it is installed.
browser:
	@test -x /usr/bin/chromium || { \
		if [ "$$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=sudo; else sudo=; fi; \
		$$sudo apt-get update && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium; }

# A local .env for the embedded default: debug on, a fresh secret, SQLite, file-system broker.
.env:
	@printf 'DEBUG=true\nSECRET_KEY=%s\n' "$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')" > $@
	@echo "Wrote .env for the embedded default (SQLite and a file-system broker in var/)."

demo: setup .env
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_demo_incidents
	$(BIN)/python manage.py seed_demo_history
	$(BIN)/python manage.py seed_demo_problem_history
	$(BIN)/python manage.py seed_demo_changes

run: demo
	@echo ""
	@echo "  ITSM is starting: http://127.0.0.1:$${ITSM_PORT:-8000}/  (log in with a demo account above)"
	@echo "  Platform admin:   http://127.0.0.1:$${ITSM_PORT:-8000}/admin/"
	@echo "  API docs:         http://127.0.0.1:$${ITSM_PORT:-8000}/api/v1/docs/"
	@echo ""
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

test: setup browser
	$(TEST_ENV) $(BIN)/python manage.py provision_db_roles --superuser-url $(PG_SUPERUSER_URL)
	$(TEST_ENV) $(BIN)/pytest $(PYTEST_ARGS)

# The workspace's screenshots in docs/screenshots/ (queue, record, create form, requester portal;
# 1280 and 390 px wide), taken by a browser test on the test database.
screenshots:
	ITSM_SCREENSHOTS=docs $(MAKE) test PYTEST_ARGS="-q tests/e2e/test_screenshots.py"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo
	DEBUG=true $(BIN)/mypy .
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=true $(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Re-pin requirements.txt from pyproject.toml's direct dependencies.
lock: setup
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.13 -o requirements.txt

clean:
	rm -rf $(VENV) var
