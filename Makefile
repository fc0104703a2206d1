# The README's commands. Everything installs from a fresh clone: virtualenv, pinned packages,
# and through apt what is missing: bubblewrap, chromium and the proxy (hub tests), PostgreSQL,
# systemd's unit checker, SLURM and munge (tests/integration/test_slurm.py starts its own SLURM).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system-packages demo test test-unprivileged bench hub messages clean

install: system-packages $(STAMP)

system-packages:
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-venv; }
	@command -v bwrap >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq bubblewrap; }
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }
	@command -v configurable-http-proxy >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq node-configurable-http-proxy; }
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql; }
	@command -v systemd-analyze >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq systemd; }
	@test -x /usr/sbin/slurmd -a -x /usr/sbin/munged || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq slurm-wlm munge; }

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/graders demo

# As root, the security suite runs a second time as an ordinary user (test-unprivileged).
test: install
	$(BIN)/pytest
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) --no-print-directory test-unprivileged; fi

# The security suite as an ordinary user (bubblewrap in user namespaces, the host's memory limit for a
# user): as root, through runuser and the user graders-ta (created if missing); see tests/as_ordinary_user.sh.
test-unprivileged: install
	sh tests/as_ordinary_user.sh

bench: install
	$(BIN)/graders bench

# JupyterHub on http://127.0.0.1:8000 (as root: it starts servers as each unix user). Makes the demo
# users (students alice, bob; TA tom; instructor ines; password graders-demo) and the hub's copy of the
# course in $(HUB_DIR)/dlcourse first. Ctrl-C stops the hub, its proxy, service and users' servers.
HUB_DIR ?= /srv/graders
hub: install
	$(BIN)/python -m graders.hub.userenv $(VENV)
	@for hw in $$(ls source); do test -d keys/$$hw || $(BIN)/graders generate $$hw || exit 1; done
	$(BIN)/python -m graders.hub.accounts create --course $(HUB_DIR)/dlcourse --from .
	GRADERS_COURSE_ROOT=$(HUB_DIR)/dlcourse GRADERS_HUB_STATE=$(HUB_DIR)/hub $(BIN)/jupyterhub -f config/jupyterhub_config.py

clean:
	rm -rf $(VENV) autograded submitted feedback keys reports gradebook.db

# The message catalog (graders/i18n.py): after changing a message in the code or a template, extract them
# all again and update each language's .po; then translate the new entries (tests/unit/test_i18n.py checks).
messages: install
	mkdir -p build
	$(BIN)/pybabel extract -F graders/locale/babel.cfg -k Message --no-location --sort-output --project graders \
		-o build/graders.pot .
	$(BIN)/pybabel update -i build/graders.pot -d graders/locale -D graders --no-fuzzy-matching \
		--ignore-obsolete
