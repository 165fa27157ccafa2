# The two commands: `make run` starts the product, `make test` runs every test.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test soak bench system-deps clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

run: $(STAMP)
	$(BIN)/calsync db upgrade
	$(BIN)/calsync demo
	$(BIN)/calsync serve

system-deps:
	bash scripts/install-system-deps.sh

test: $(STAMP) system-deps
	$(BIN)/python -m pytest

soak: $(STAMP)
	CALSYNC_SOAK_EXAMPLES=10000 CALSYNC_SOAK_DAV_EXAMPLES=1000 $(BIN)/python -m pytest tests/sync/test_stateful.py -q

bench: $(STAMP)
	$(BIN)/pip install -q -e ".[test,bench]"
	$(BIN)/python -m bench.run_all

clean:
	rm -rf $(VENV) var
