# Two entry points: `make demo` runs the local stack with a simulated team, `make test` runs the tests.
# Each installs what is missing first: Debian packages and a virtual environment.

VENV ?= .venv
PYTHON ?= python3
DEBS := mosquitto influxdb victoria-metrics chromium
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
STAMP := $(VENV)/.installed

.PHONY: demo test lint deps venv bench clean

demo: deps venv
	$(VENV)/bin/footpod-monitor up --simulate 8

test: deps venv lint
	$(VENV)/bin/python -m pytest

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

deps:
	@missing=""; for pkg in $(DEBS); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[test]'
	touch $(STAMP)

# The speed suite of README "Speed": floor, hand-rolled loop, sync flood, live runners, memory,
# two stream workers, side by side (a few minutes). BENCH_ARGS="--live-s 300" for the long live run.
bench: deps venv
	$(VENV)/bin/python -m pip install -q -e '.[bench]'
	$(VENV)/bin/python bench/suite.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .footpod .pytest_cache .hypothesis
