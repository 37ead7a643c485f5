PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean

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
	$(BIN)/ruff check listener tests bench

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info listener.db* listener.lock
