# Two commands on a fresh machine: `make demo`, `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install system-deps demo test test-fast lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# Offscreen rendering for videos (MUJOCO_GL=osmesa) needs Mesa's software GL from Debian;
# the tuner's shared-study test needs a PostgreSQL server.
system-deps:
	@dpkg -s libosmesa6 >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq libosmesa6 >/dev/null) || \
		echo "could not install libosmesa6: videos (evaluate --video) will not render"
	@dpkg -s postgresql >/dev/null 2>&1 || \
		(apt-get update -qq && \
		 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || \
		echo "could not install postgresql: the shared-study tuning test will be skipped"

demo: $(STAMP)
	$(BIN)/soccer-td3 train --env LowerT1GoaliePenaltyKick-v0 --timesteps 3000 \
		--learning-starts 1000 --log-interval 500 --save_dir runs/demo

# Everything, as CI runs it.
test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -q

# The edit-test loop: unit tests only (no training runs, CLI processes, studies or videos).
test-fast: $(STAMP) lint
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench training_scripts

bench: $(STAMP)
	$(BIN)/python bench/throughput.py --quick

clean:
	rm -rf $(VENV) runs build src/*.egg-info
