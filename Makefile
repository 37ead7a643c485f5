PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# `make test-clock`: the suite with the wall clock moved by each shift (libfaketime; monotonic time
# is left alone). The shim works around libfaketime 0.9.10 breaking Python 3.11's time.sleep().
CLOCK_SHIFTS ?= +365d -365d
FAKETIME_LIB ?= $(firstword $(wildcard /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1))
CLOCK_SHIM := $(VENV)/monotonic_sleep.so

.PHONY: run test test-clock lint bench fuzz clean

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

$(CLOCK_SHIM): tests/clock/monotonic_sleep.c $(BIN)/python
	$(CC) -shared -fPIC -O2 -o $@ $< -ldl

test-clock: $(STAMP) $(CLOCK_SHIM)
	@test -n "$(FAKETIME_LIB)" || { echo "libfaketime not found: apt-get install faketime" >&2; exit 1; }
	@for shift in $(CLOCK_SHIFTS); do \
		echo "== the wall clock moved $$shift"; \
		LD_PRELOAD="$(abspath $(CLOCK_SHIM)) $(FAKETIME_LIB)" FAKETIME="$$shift" FAKETIME_DONT_FAKE_MONOTONIC=1 \
			$(BIN)/pytest -n 2 -q || exit 1; \
	done

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info listener.db* listener.lock
