PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench fuzz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/listener --config feeds.yaml poll --all
	$(BIN)/listener --config feeds.yaml mentions --limit 20
	$(BIN)/listener --config feeds.yaml threads --needs-reply
	$(BIN)/listener --config feeds.yaml report

test: $(STAMP) lint
	$(BIN)/mypy listener
	$(BIN)/pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check listener tests bench tools

# The long fuzz run; `make test` runs the same test with 40 examples.
fuzz: $(STAMP)
	LISTENER_FUZZ_EXAMPLES=$${LISTENER_FUZZ_EXAMPLES:-3000} $(BIN)/pytest -q -p no:xdist tests/test_fuzz_feeds.py tests/test_parse.py -k "fuzz or mutated or arbitrary"

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info listener.db* listener.lock
