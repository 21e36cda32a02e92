# Targets CI calls unchanged. `make demo` and `make test` are the README's two commands.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo install test test-sqlite test-browser lint typecheck audit audit-http ci bench-quality bench-serve bench-load bench-scale bench-import bench-rehearsal clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[train,dev,bench]'
	touch $(STAMP)

install: $(STAMP)

## The main job: SQLite + demo catalog + trained model + server with GraphiQL.
demo: $(STAMP)
	$(BIN)/bookrec demo

## The whole suite, on SQLite and on a local PostgreSQL (started, or installed, if needed),
## with the browser tests on Debian's chromium (installed if needed).
test: $(STAMP)
	BOOKREC_TEST_CHROMIUM="$$(scripts/chromium.sh)" \
	BOOKREC_TEST_DATABASE_URL="$$(scripts/postgres.sh)" $(BIN)/pytest -q

test-sqlite: $(STAMP)
	BOOKREC_TEST_CHROMIUM="$$(scripts/chromium.sh)" $(BIN)/pytest -q

## Only the browser tests (they also write docs/screenshots/*.png).
test-browser: $(STAMP)
	BOOKREC_TEST_CHROMIUM="$$(scripts/chromium.sh)" $(BIN)/pytest -q tests/browser

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

audit: $(STAMP)
	scripts/audit.sh

## The GraphQL-over-HTTP spec's audit suite (graphql-http, via npm) against a real server.
audit-http: $(STAMP)
	scripts/graphql-http-audit.sh

## What CI runs: lint, types, the whole suite on both databases, the audits, bench smoke runs.
ci: lint typecheck test audit audit-http
	$(BIN)/python bench/serve.py --quick
	$(BIN)/python bench/load.py --quick
	BOOKREC_TEST_DATABASE_URL="$$(scripts/postgres.sh)" $(BIN)/python bench/importing.py --quick
	scripts/postgres.sh >/dev/null && $(BIN)/python bench/rehearsal.py --quick

bench-quality: $(STAMP)
	$(BIN)/python bench/quality.py

bench-scale: $(STAMP)
	$(BIN)/python bench/scale.py

bench-serve: $(STAMP)
	$(BIN)/python bench/serve.py

bench-load: $(STAMP)
	$(BIN)/python bench/load.py

bench-import: $(STAMP)
	BOOKREC_TEST_DATABASE_URL="$$(scripts/postgres.sh)" $(BIN)/python bench/importing.py

## Several hosts in network namespaces behind haproxy, with faults (root; installs haproxy).
bench-rehearsal: $(STAMP)
	scripts/postgres.sh >/dev/null && $(BIN)/python bench/rehearsal.py

clean:
	rm -rf $(VENV) bookrec.db bookrec.db-* models .bookrec-dev-key
