# sipprobe — the two promises: `make demo` and `make test`, each from a fresh clone.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint fuzz bench peers venv clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,srtp]'
	touch $(STAMP)

venv: $(STAMP)

peers:
	./scripts/install-peers

demo: venv
	$(BIN)/sipprobe demo

test: venv peers
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check probe tests bench
	$(BIN)/ruff format --check probe tests bench
	$(BIN)/mypy

# Every hypothesis property with 100,000 examples (about an hour on two cores); the
# per-property statistics (examples run, time) are printed at the end.
fuzz: venv
	SIPPROBE_FUZZ_EXAMPLES=100000 $(BIN)/python -m pytest -m fuzz -p no:randomly -q \
		--timeout 0 --hypothesis-show-statistics

# Real servers, interleaved contenders, BENCHMARKS.md written from the measurements
# (about five minutes; `python -m bench.run --quick` for a smoke run).
bench: venv
	./scripts/install-peers --bench
	$(BIN)/python -m bench.run --profile

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
