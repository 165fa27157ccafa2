# The two commands: `make run` starts the product, `make test` runs every test.
VENV := .venv
BIN := $(VENV)/bin
SUM := $(shell cksum pyproject.toml | cut -d' ' -f1)
# `run` installs only the product; `test` adds the test tools (extra `test`) on top of it.
RUN_STAMP := $(VENV)/.installed-run-$(SUM)
TEST_STAMP := $(VENV)/.installed-test-$(SUM)

.PHONY: run test soak bench messages system-deps clean

$(RUN_STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	rm -f $(VENV)/.installed-run-* && touch $(RUN_STAMP)

$(TEST_STAMP): $(RUN_STAMP)
	$(BIN)/pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-test-* && touch $(TEST_STAMP)

run: $(RUN_STAMP)
	$(BIN)/calsync db upgrade
	$(BIN)/calsync demo
	$(BIN)/calsync serve

# After wrapping a new string in a template or script: adds it to locale/*/LC_MESSAGES/*.po to translate.
messages: $(RUN_STAMP)
	$(BIN)/python -m calsync.web.i18n_catalogs

system-deps:
	bash scripts/install-system-deps.sh

test: $(TEST_STAMP) system-deps
	$(BIN)/python -m pytest

soak: $(TEST_STAMP)
	CALSYNC_SOAK_EXAMPLES=10000 CALSYNC_SOAK_DAV_EXAMPLES=1000 $(BIN)/python -m pytest tests/sync/test_stateful.py -q

bench: $(TEST_STAMP)
	$(BIN)/pip install -q -e ".[test,bench]"
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) var
