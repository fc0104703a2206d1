#!/bin/sh
# The security suite (isolation, limits, tampering) and the memory-limit unit tests as an ordinary
# user: a TA without root, whose sandboxes are bubblewrap in user namespaces and whose memory limit
# is whatever the host gives a user.
#
# As root (CI, `make test`): creates the system user graders-ta if missing, makes a Python it can run
# (the project's packages and commands on the system python3: graders.hub.userenv) and runs pytest
# through runuser.
# Where that user cannot read this checkout (a clone under /root), it runs on a copy that it can read
# (the virtualenv copied with hard links), removed afterwards. As an ordinary user: runs the suite as is.
set -eu
cd "$(dirname "$0")/.."
SUITE="tests/security tests/unit/test_memory_limits.py"
if [ "$(id -u)" != 0 ]; then
    exec .venv/bin/python -m pytest -p no:cacheprovider $SUITE "$@"
fi
user="${GRADERS_TEST_USER:-graders-ta}"
id -u "$user" >/dev/null 2>&1 ||
    useradd --system --create-home --home-dir "/var/lib/$user" --shell /usr/sbin/nologin "$user"
repo="$PWD"
copy=""
if ! runuser -u "$user" -- test -r "$repo/pyproject.toml" -a -x "$repo/.venv/lib"; then
    copy="$(mktemp -d /tmp/graders-checkout-XXXXXX)"
    chgrp "$user" "$copy" && chmod 750 "$copy"  # instructor solutions: this user only, not everyone
    git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$copy"
    cp -al .venv "$copy/.venv" 2>/dev/null || { rm -rf "$copy/.venv"; cp -a .venv "$copy/.venv"; }
    for site in "$copy"/.venv/lib/python3*/site-packages; do
        rm -f "$site"/__editable__*graders*  # links to this checkout's package; the copy's own instead:
        echo "$copy" > "$site/graders_checkout.pth"
    done
    repo="$copy"
fi
python="$(.venv/bin/python -m graders.hub.userenv "$repo/.venv")"
status=0
# PATH: nbgrader runs `alembic`, which must be the one on that python.
(cd "$repo" && runuser -u "$user" -- env PATH="$(dirname "$python"):/usr/local/bin:/usr/bin:/bin" \
    "$python" -m pytest -p no:cacheprovider $SUITE "$@") || status=$?
[ -z "$copy" ] || rm -rf "$copy"
exit "$status"
