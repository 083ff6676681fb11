# Samspil: `make up` runs everything locally, `make test` runs every check and test.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: up stop test lint typecheck unit bench reset lock clean promtool stunnel chromium deploy-files portal-messages

$(STAMP): pyproject.toml requirements-dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

up: $(STAMP)  ## run broker, databases and all three services on the embedded defaults
	$(BIN)/samspil up

# Test files run on this many processes (pytest-xdist; a file's tests stay together, so each worker starts the
# end-to-end stack once, with its own broker and PostgreSQL). TEST_WORKERS=0 runs them all in this process.
TEST_WORKERS ?= 2

test: lint typecheck promtool stunnel chromium  ## every check and every test, against the real broker and PostgreSQL
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=20

# sudo only where we are not root already (CI runs as root, often without sudo).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

promtool:  ## install Prometheus (for promtool and the metrics tests) from Debian when missing
	command -v promtool >/dev/null || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus)

stunnel:  ## install stunnel (the TLS proxy in front of the test broker and PostgreSQL) from Debian when missing
	command -v stunnel4 >/dev/null || command -v stunnel >/dev/null || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends stunnel4)

chromium:  ## install Chromium (the portal's browser tests drive it with Playwright; never a browser download) from Debian when missing
	command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)

PORTAL := services/provider-gateway/provider_gateway/portal

portal-messages: $(STAMP)  ## extract the provider portal's texts, update the da/en catalogues, compile them (commit the .po and .mo)
	$(BIN)/pybabel -q extract -F $(PORTAL)/babel.cfg --no-location --sort-output --omit-header -o $(PORTAL)/locale/messages.pot $(PORTAL)
	set -e; for lang in da en; do \
	  if [ -f $(PORTAL)/locale/$$lang/LC_MESSAGES/messages.po ]; then \
	    $(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete -i $(PORTAL)/locale/messages.pot -d $(PORTAL)/locale -D messages -l $$lang; \
	  else \
	    $(BIN)/pybabel -q init -i $(PORTAL)/locale/messages.pot -d $(PORTAL)/locale -D messages -l $$lang; \
	  fi; \
	done
	$(BIN)/pybabel -q compile -d $(PORTAL)/locale -D messages

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy samspil schemas services tests benchmarks

unit: $(STAMP)  ## only the tests that need no broker or database
	$(BIN)/python -m pytest -m "not e2e" tests/unit

bench: $(STAMP)  ## raw broker and database rates, the flows, open-loop latency, consumer backlog, cost with size, memory; BENCH_ARGS="--only size" runs one part
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

stop: $(STAMP)  ## stop a running `make up` (e.g. one whose terminal was closed)
	$(BIN)/samspil stop

reset: $(STAMP)  ## wipe the local state folder (.samspil)
	$(BIN)/samspil reset

lock: $(STAMP)  ## re-pin dependencies after changing pyproject.toml
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -q -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra embedded --generate-hashes --python-version 3.11 -q -o requirements-dev.lock

deploy-files: $(STAMP)  ## regenerate deploy/k8s/kafka/topics.yaml (Strimzi KafkaTopics) from the topic catalogue
	$(BIN)/samspil deploy topics -o deploy/k8s/kafka/topics.yaml

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
