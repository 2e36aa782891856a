# Every target installs what it needs into .venv first (Python >= 3.11 on PATH as $(PYTHON)).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev
PYTEST_ARGS ?=

.PHONY: install test test-fast lint demo bench sandbox clean

# The four distributions of the workspace (each folder has its pyproject.toml).
PACKAGES := enectiva tap-enectiva target-enectiva sandbox

$(STAMP): pyproject.toml VERSION $(PACKAGES:%=%/pyproject.toml) $(wildcard $(PACKAGES:%=%/hatch_build.py))
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python >= 3.11 required (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U 'pip>=25.1'
	# A .venv from before the split held one distribution, enectiva-singer, with all three CLIs.
	$(BIN)/python -m pip uninstall -q -y enectiva-singer 2>/dev/null || true
	$(BIN)/python -m pip install -q $(PACKAGES:%=-e ./%) --group dev
	touch $(STAMP)

install: $(STAMP)

## The whole test suite (what CI runs): unit, integration, end-to-end, slow suites included.
test: install
	bash scripts/ensure_postgres.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

## The quick loop while developing: everything not marked slow.
test-fast: install
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow" $(PYTEST_ARGS)

## Style and types: ruff, and mypy (strict on overrides: every SDK hook carries @override).
lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

## The main job end to end: sandbox -> CSV tap -> target-enectiva; tap-enectiva -> DuckDB; report.
demo: install
	$(BIN)/python demo/run_demo.py

## Throughput and memory benchmarks against baselines measured in the same run.
bench: install
	$(BIN)/python -m benchmarks.run

## The sandbox on its own, demo seed, data kept in sandbox.db.
sandbox: install
	$(BIN)/enectiva-sandbox serve --port 8787 --data sandbox.db --seed demo

clean:
	rm -rf $(VENV) .venv-meltano .pytest_cache .ruff_cache .meltano output \
		$(PACKAGES:%=%/dist)
