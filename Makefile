# The two commands of the quick start: `make run` and `make test`.  Both create or reuse .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= data
PORT ?= 50051
WEB_PORT ?= 8080
# The Node client test and buf (tests/node/package.json, pinned by its package-lock.json).
NODE_TESTS := tests/node
NODE_STAMP := $(NODE_TESTS)/node_modules/.installed-stamp

.PHONY: run test test-fast lint format proto bench clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/keyun serve --demo --sandbox-pay --sandbox-sms --data-dir $(DATA_DIR) --port $(PORT) --web $(WEB_PORT)

# Two test processes by default; each takes whole test files, since a file's tests share one
# server and may rely on their order.  TEST_WORKERS=0 runs them in this process, one by one.
TEST_WORKERS ?= 2
test: lint $(NODE_STAMP) browser
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The engine's tests alone, in well under a minute: no Ray, no gRPC, no gateway, and
# tests/engine/server_free.py makes any import of them fail.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -p tests.engine.server_free tests/engine

# The format, the lint rules, the engine's types (strict) and the layers' import contracts,
# all configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff format --check
	$(BIN)/ruff check
	$(BIN)/mypy
	$(BIN)/lint-imports

# Apply the fixes ruff can make by itself, then the format (a fix can leave lines to reflow).
format: $(STAMP)
	$(BIN)/ruff check --fix --exit-zero
	$(BIN)/ruff format

# Without npm the tests that need Node or buf skip and say so; with it, a failed install fails.
$(NODE_STAMP): $(NODE_TESTS)/package.json $(NODE_TESTS)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix $(NODE_TESTS) --ignore-scripts --no-audit --no-fund && touch $@; \
	else \
		echo "npm not found: the Node client test and buf lint/breaking will be skipped"; \
	fi

# Debian's Chromium for the browser tests (tests/web), and a Chinese font for the pages it renders:
# Playwright drives /usr/bin/chromium and never downloads a browser.  Installed when missing and this is root with apt (a CI machine); otherwise
# the browser tests skip and say so, except under CI=true, where they fail.
browser:
	@if [ -x /usr/bin/chromium ] && [ -e /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium and a Chinese font for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-zenhei >/dev/null 2>&1 \
		|| { apt-get update -q >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-zenhei >/dev/null; }; \
	else \
		echo "no /usr/bin/chromium (apt-get install chromium): the browser tests will skip"; \
	fi

# Regenerate proto/keyun/v1/*_pb2*.py after editing a .proto file.
proto: $(STAMP)
	$(BIN)/python -m grpc_tools.protoc -Iproto --python_out=proto --pyi_out=proto \
		--grpc_python_out=proto proto/keyun/v1/*.proto

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache $(NODE_TESTS)/node_modules

# Benchmarks (not tests): load scenarios against a real server with the echo ceiling; 100,000 mixed
# transactions, then a crash and a check of every sale; the engine alone; one batch's cost to the
# gateway; replay/recovery of a 1,000,000-event log.  Results in bench/results; see BENCHMARKS.md.
bench: $(STAMP)
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.day
	$(BIN)/python -m bench.engine
	$(BIN)/python -m bench.batches
	$(BIN)/python -m bench.replay
