# sipprobe — the two promises: `make demo` and `make test`, each from a fresh clone.
PYTHON ?= python3
# One virtualenv per interpreter: `make test PYTHON=/usr/bin/python3` builds and uses
# .venv-usr-bin-python3 and leaves the default .venv alone.
ifeq ($(PYTHON),python3)
VENV   ?= .venv
else
VENV   ?= .venv-$(subst /,-,$(patsubst /%,%,$(PYTHON)))
endif
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint fuzz bench peers venv clean

# Debian's python3 has no venv (ensurepip) until python3-venv is installed.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || ./scripts/install-peers
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,srtp,pcap]'
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
# (about twenty-five minutes, the exporter soak's 100,000 probes ten of them;
# `python -m bench.run --quick` for a smoke run).
bench: venv
	./scripts/install-peers --bench
	$(BIN)/python -m bench.run --profile

clean:
	rm -rf .venv .venv-* .pytest_cache .mypy_cache .ruff_cache .hypothesis
