# Téléservices — the two commands: `make run` and `make test` (both install first).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint browser axe clean topology

install: $(STAMP)

# Reinstall when the dependencies or the pins change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test,lint]"
	@touch $(STAMP)

run: install
	$(BIN)/tsctl run

# Every process of docker-compose.yml run natively (no Docker): PostgreSQL's binaries, RabbitMQ and
# nginx (TS_TEST_NGINX=/path/to/nginx when not on PATH) are needed. docs/operations.md.
topology: install
	$(BIN)/python deploy/topology.py $(TOPOLOGY_ARGS)

# One pytest worker per core; a module's tests stay on one worker (they share its platform, see conftest.py).
test: install browser axe
	$(BIN)/python -m pytest -n auto --dist loadscope $(PYTEST_ARGS)

# ruff (style, bugs, complexity) and mypy (types), configured in pyproject.toml; CI runs it.
lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# The browser journeys drive Debian's Chromium (never a downloaded browser). Installed here when
# the machine allows it; otherwise those tests skip and say why.
browser:
	@test -x /usr/bin/chromium || { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		{ apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; } \
		|| echo "chromium is not installed (apt-get install chromium): the browser journeys will be skipped"; }

# axe-core (npm, pinned in package-lock.json), injected by the browser journeys to check each page's
# accessibility. Without npm those checks skip and say why.
axe: node_modules/axe-core/axe.min.js

node_modules/axe-core/axe.min.js: package.json package-lock.json
	@if command -v npm >/dev/null; then npm ci --ignore-scripts --no-fund --no-audit --loglevel=error && touch $@; \
	else echo "npm is not installed: the accessibility checks of the browser journeys will be skipped"; fi

clean:
	rm -rf $(VENV) data .pytest_cache node_modules test-artifacts
