PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# `make test-clock`: the suite with the wall clock moved by each shift (libfaketime; monotonic time
# is left alone). The shim works around libfaketime 0.9.10 breaking Python 3.11's time.sleep().
CLOCK_SHIFTS ?= +365d -365d
FAKETIME_LIB ?= $(firstword $(wildcard /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1))
CLOCK_SHIM := $(VENV)/monotonic_sleep.so

.PHONY: run test test-clock lint bench fuzz clean pure

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The development install is editable and pure Python; the modules every item runs through are then
# compiled in place with mypyc (setup.py), and compiled again whenever one of them changes, so what
# the suite and the benchmarks run is what `pip install .` ships. `make pure` removes them (until the
# next `make test`): the suite then runs the source.
$(STAMP): $(BIN)/python setup.cfg pyproject.toml setup.py
	LISTENER_COMPILE=0 $(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

COMPILED := $(VENV)/.compiled
# setup.py's modules and the ones they import (mypyc compiles against their types)
$(COMPILED): $(STAMP) setup.py listener/vader.py listener/sentiment.py listener/models.py listener/text.py \
		$(wildcard listener/verdict/*.py)
	$(BIN)/python setup.py -q build_ext --inplace >$(VENV)/compile.log 2>&1 || { cat $(VENV)/compile.log >&2; exit 1; }
	find listener -name '*.so' -exec touch {} +  # a module whose C did not change keeps its old file: it is current
	touch $(COMPILED)

pure:
	find listener -name '*.so' -delete
	rm -f $(COMPILED)

run: $(COMPILED)
	$(BIN)/listener --config feeds.yaml poll --all
	$(BIN)/listener --config feeds.yaml mentions --limit 20
	$(BIN)/listener --config feeds.yaml threads --needs-reply
	$(BIN)/listener --config feeds.yaml report

test: $(COMPILED) lint
	$(BIN)/mypy listener
	$(BIN)/pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check listener tests bench tools setup.py

# The long fuzz run; `make test` runs the same test with 40 examples.
fuzz: $(COMPILED)
	LISTENER_FUZZ_EXAMPLES=$${LISTENER_FUZZ_EXAMPLES:-3000} $(BIN)/pytest -q -p no:xdist tests/test_fuzz_feeds.py tests/test_parse.py -k "fuzz or mutated or arbitrary"

$(CLOCK_SHIM): tests/clock/monotonic_sleep.c $(BIN)/python
	$(CC) -shared -fPIC -O2 -o $@ $< -ldl

test-clock: $(COMPILED) $(CLOCK_SHIM)
	@test -n "$(FAKETIME_LIB)" || { echo "libfaketime not found: apt-get install faketime" >&2; exit 1; }
	@for shift in $(CLOCK_SHIFTS); do \
		echo "== the wall clock moved $$shift"; \
		LD_PRELOAD="$(abspath $(CLOCK_SHIM)) $(FAKETIME_LIB)" FAKETIME="$$shift" FAKETIME_DONT_FAKE_MONOTONIC=1 \
			$(BIN)/pytest -n 2 -q || exit 1; \
	done

bench: $(COMPILED)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) *.egg-info listener.db* listener.lock build
	find listener -name '*.so' -delete
