# The README's commands. Everything installs from a fresh clone: virtualenv, pinned packages,
# bubblewrap through apt when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-packages demo test bench clean

install: system-packages $(STAMP)

system-packages:
	@command -v bwrap >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bubblewrap; }

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/graders demo

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/bench_autograde.py

clean:
	rm -rf $(VENV) autograded submitted feedback keys reports gradebook.db
