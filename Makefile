# Two commands on a fresh machine: `make demo`, `make test`. Both create .venv when needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install system-deps osmesa postgresql demo test test-fast lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# Offscreen rendering for videos (MUJOCO_GL=osmesa) needs Mesa's software GL from Debian;
# the tuner's shared-study test needs a PostgreSQL server.
system-deps: osmesa postgresql

osmesa:
	@dpkg -s libosmesa6 >/dev/null 2>&1 || \
		(apt-get update -qq && apt-get install -y -qq libosmesa6 >/dev/null) || \
		echo "could not install libosmesa6: videos (evaluate --video) will not render"

postgresql:
	@dpkg -s postgresql >/dev/null 2>&1 || \
		(apt-get update -qq && \
		 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || \
		echo "could not install postgresql: the shared-study tuning test will be skipped"

# The robot playing in under 5 minutes: 2 minutes of the soccer preset over the scripted
# chaser on the goalie task, evaluated every 25k env steps (one episode: the task starts alike
# every time), the best weights exported in the SAI contract and played through the SAI SDK (it
# prints the competition score), and a clip of that policy (mp4 and GIF). Each demo gets its
# own folder.
DEMO := runs/demo-$(shell date +%Y%m%d-%H%M%S)
demo: $(STAMP) osmesa
	$(BIN)/soccer-td3 train --preset soccer --prior chaser --warmup policy \
		--actor-last-layer-init 0.003 --env LowerT1GoaliePenaltyKick-v0 --max-minutes 2 \
		--eval-freq 25000 --eval-episodes 1 --save-dir $(DEMO)
	$(BIN)/soccer-td3 export $(DEMO)/best --save-dir $(DEMO)/submission
	$(BIN)/soccer-td3 evaluate $(DEMO)/submission --episodes 1
	$(BIN)/soccer-td3 evaluate $(DEMO)/best --episodes 1 --save-dir $(DEMO) \
		--video $(DEMO)/goalie.mp4 --video-seconds 6

# Everything, as CI runs it.
# Two pytest workers share the two cores (pytest-xdist; worksteal: a worker that runs out takes
# queued tests from the other, so neither idles at the end); the few tests that read the machine's
# CPU use or time a stop run alone afterwards, on a quiet machine.
test: $(STAMP) system-deps lint
	$(BIN)/python -m pytest -q -n 2 --dist worksteal -m "not quiet"
	$(BIN)/python -m pytest -q -m quiet

# The edit-test loop: unit tests only (no training runs, CLI processes, studies or videos).
test-fast: $(STAMP) lint
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench training_scripts

bench: $(STAMP)
	$(BIN)/python bench/throughput.py --quick

clean:
	rm -rf $(VENV) runs build src/*.egg-info
