"""Why a sandbox cannot be made, in one line with its fix, from bubblewrap's own words and the host's settings.

The messages are bubblewrap's (bubblewrap.c, `die`/`die_with_error` around the namespace
creation and the uid map, 0.6 to 0.11); the AppArmor and Debian cases cannot be
provoked on this machine, so their real messages are given here. The ENOSPC case is
also provoked for real in tests/security/test_preflight.py.
"""

from __future__ import annotations

import pytest

from graders.sandbox.preflight import explain

APPARMOR_UBUNTU_2404 = "bwrap: setting up uid map: Permission denied"  # die_with_error("setting up uid map")
DEBIAN_SWITCH_OFF = ("bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
                     "non-privileged user namespaces. On e.g. debian this can be enabled with "
                     "'sysctl kernel.unprivileged_userns_clone=1'.")  # 0.6 - 0.8; "to create a new" since 0.9
MAX_ZERO = "bwrap: Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)"
NO_USERNS_KERNEL = ("bwrap: Creating new namespace failed, likely because the kernel does not support user "
                    "namespaces.  bwrap must be installed setuid on such systems.")
DEFAULTS = {"user.max_user_namespaces": "63366"}


@pytest.mark.parametrize("failure, sysctls, cause, fix", [
    (APPARMOR_UBUNTU_2404, {**DEFAULTS, "kernel.apparmor_restrict_unprivileged_userns": "1"},
     "AppArmor", "/etc/apparmor.d/bwrap"),
    (APPARMOR_UBUNTU_2404, {**DEFAULTS, "kernel.apparmor_restrict_unprivileged_userns": "1"},
     "kernel.apparmor_restrict_unprivileged_userns = 1", "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
    (DEBIAN_SWITCH_OFF, {**DEFAULTS, "kernel.unprivileged_userns_clone": "0"},
     "kernel.unprivileged_userns_clone = 0", "sudo sysctl -w kernel.unprivileged_userns_clone=1"),
    (MAX_ZERO, {"user.max_user_namespaces": "0"}, "user.max_user_namespaces is 0",
     "sudo sysctl -w user.max_user_namespaces=15000"),
    # the selftest's step inside the sandbox (the namespace every submission gets), as root with a cap of 0:
    ("new user, mount, PID and IPC namespaces (per submission): ENOSPC (No space left on device)",
     {"user.max_user_namespaces": "0"}, "user.max_user_namespaces is 0", "sysctl -w user.max_user_namespaces="),
    ("new user, mount, PID and IPC namespaces (per submission): EPERM (Operation not permitted)",
     {**DEFAULTS, "kernel.apparmor_restrict_unprivileged_userns": "1"}, "AppArmor", "userns"),
    (NO_USERNS_KERNEL, DEFAULTS, "CONFIG_USER_NS", "as root"),
])
def test_a_refused_user_namespace_is_one_line_with_its_cause_and_fix(failure, sysctls, cause, fix):
    line = explain(failure, sysctls)
    assert "\n" not in line
    assert cause in line and fix in line
    assert failure in line  # what bubblewrap or the kernel said, for a search engine


def test_an_unknown_refusal_still_quotes_the_failure_and_says_where_to_look():
    line = explain("bwrap: unshare user ns: Operation not permitted", DEFAULTS)
    assert "Operation not permitted" in line and "graders doctor" in line


def test_a_failure_that_is_not_about_namespaces_is_not_blamed_on_them():
    line = explain("bwrap: Can't mount proc on /newroot/proc: Operation not permitted",
                   {"user.max_user_namespaces": "0"})
    assert "max_user_namespaces" not in line and "mount proc" in line
