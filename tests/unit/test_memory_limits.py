"""One memory limit for a submission's processes together: where a cgroup can be made, and the watchdog elsewhere.

The cgroup v2 files cannot be exercised on this cgroup v1 machine: what can be is tested
here on real /proc text and on a folder laid out like a cgroup v2 one (the real v2 test
is in bench/gpu_check.sh). The watchdog and the choice of mechanism run for real.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from graders.contract import MemoryMechanism
from graders.sandbox import cgroup, memory, watchdog

V1_HOST = """9:name=systemd:/
4:memory:/process_api/70f70343e040a9e6ab14c6d861a9a8dc
3:cpuset:/
0::/
"""
V2_HOST = "0::/user.slice/user-1000.slice/user@1000.service/app.slice/graders.scope\n"
HYBRID_HOST = "12:memory:/user.slice\n1:name=systemd:/user.slice/session-2.scope\n0::/user.slice/session-2.scope\n"
MOUNTINFO = """24 31 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
28 24 0:25 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""
MIB = 1 << 20


def test_proc_cgroup_gives_the_v2_path_and_the_v1_memory_path():
    assert cgroup.parse_proc_cgroup(V1_HOST) == cgroup.CgroupPaths("/", "/process_api/70f70343e040a9e6ab14c6d861a9a8dc")
    assert cgroup.parse_proc_cgroup(V2_HOST) == cgroup.CgroupPaths(
        "/user.slice/user-1000.slice/user@1000.service/app.slice/graders.scope", None)
    assert cgroup.parse_proc_cgroup(HYBRID_HOST) == cgroup.CgroupPaths("/user.slice/session-2.scope", "/user.slice")


def test_the_v2_mount_point_comes_from_mountinfo():
    assert cgroup.cgroup2_mount(MOUNTINFO) == cgroup.Path("/sys/fs/cgroup")
    assert cgroup.cgroup2_mount(MOUNTINFO.splitlines()[0]) is None


def _fake_v2_cgroup(folder, controllers="cpu memory pids"):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("cgroup.controllers", controllers), ("cgroup.subtree_control", ""), ("cgroup.procs", "")):
        (folder / name).write_text(text)
    return folder


def test_a_v2_cgroup_is_ours_to_manage_only_when_delegated(tmp_path):
    group = _fake_v2_cgroup(tmp_path / "app.slice" / "graders.service")
    if os.geteuid() == 0:  # root must be told (systemd's Delegate=yes sets this attribute)
        assert not cgroup.is_delegated(group)
        os.setxattr(group, "user.delegate", b"1")
    assert cgroup.is_delegated(group)  # an ordinary user owns what was delegated to it
    no_memory = _fake_v2_cgroup(tmp_path / "other", controllers="cpu pids")
    if os.geteuid() == 0:
        os.setxattr(no_memory, "user.delegate", b"1")
    assert not cgroup.is_delegated(no_memory)


def test_a_v2_leaf_sets_memory_max_and_counts_oom_kills_from_memory_events(tmp_path):
    home = _fake_v2_cgroup(tmp_path / "graders.scope")
    (home / "kernel").mkdir()
    (home / "kernel" / "memory.events").write_text("low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n")
    (home / "kernel" / "memory.current").write_text(str(300 * MIB))
    leaf = cgroup.UnifiedCgroup.create(home, "kernel")
    assert leaf is not None and (home / "cgroup.subtree_control").read_text() == "+memory"
    leaf.limit(1280 * MIB)
    assert (home / "kernel" / "memory.max").read_text() == str(1280 * MIB)
    assert leaf.oom_kills() == 2 and leaf.usage_bytes() == 300 * MIB


def test_this_host_gives_root_a_v1_cgroup_and_an_ordinary_user_the_watchdog():
    # This machine: cgroup v1, its memory hierarchy writable by root only, no v2 hierarchy, no systemd.
    mechanism, where = memory.probe()
    if os.geteuid() == 0:
        assert mechanism == MemoryMechanism.CGROUP_V1 and "in /sys/fs/cgroup/memory/" in where
    else:
        assert mechanism == MemoryMechanism.WATCHDOG


def _python(source: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", source], stdout=subprocess.PIPE, text=True)


def test_pages_shared_by_a_submissions_processes_count_once():
    # 200 MiB touched by the parent, then 3 children that only hold it: 4 processes map it.
    tree = _python("import os, sys, time\nb = b'x' * (200 * 2**20)\nfor _ in range(3):\n"
                   "    if os.fork() == 0:\n        time.sleep(20); os._exit(0)\nprint('ready', flush=True)\n"
                   "time.sleep(20)\n")
    try:
        assert tree.stdout.readline() == "ready\n"
        pids = [tree.pid, *watchdog.descendants(tree.pid)]
        assert len(pids) == 4
        resident = sum(watchdog.resident_bytes(pid) for pid in pids)
        charged = watchdog.charged_bytes(pids, baseline=0)
        assert resident >= 4 * 200 * MIB  # a sum of RSS would count it four times
        assert 200 * MIB <= charged < 260 * MIB  # PSS: once, plus the interpreter
    finally:
        tree.kill()
        tree.wait()


@pytest.mark.parametrize("children", [1, 5])
def test_the_watchdog_stops_a_tree_past_its_limit_and_leaves_one_under_it(children):
    # A "zygote" that forks, when told, `children` processes of 100 MiB each (held 20 s at most); limit 300 MiB.
    tree = subprocess.Popen([sys.executable, "-c", f"import os, sys, time\nprint('ready', flush=True)\n"
                             f"sys.stdin.readline()\nfor _ in range({children}):\n    if os.fork() == 0:\n"
                             "        b = b'x' * (100 * 2**20); print('held', flush=True); time.sleep(20)\n"
                             "        os._exit(0)\ntime.sleep(20)\n"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert tree.stdout.readline() == "ready\n"
        limit = memory.WatchdogLimit(tree.pid)  # the zygote itself is never charged, nor killed
        limit.begin(300 * MIB)
        tree.stdin.write("go\n")
        tree.stdin.flush()
        if children == 1:
            assert tree.stdout.readline() == "held\n"
            time.sleep(3 * memory.WATCH_INTERVAL_S)
        else:
            deadline = time.monotonic() + 30  # a loaded machine allocates slowly
            while not (watchdog.descendants(tree.pid) and all(map(_is_zombie, watchdog.descendants(tree.pid)))):
                assert time.monotonic() < deadline, "the watchdog did not kill the tree"
                time.sleep(0.1)
        used = limit.end()
        left = watchdog.descendants(tree.pid)
        if children == 5:
            assert used.exceeded and used.peak_bytes > 300 * MIB
            assert all(_is_zombie(pid) for pid in left)  # killed; the zygote has not reaped them
        else:
            assert not used.exceeded and 80 * MIB <= used.peak_bytes < 300 * MIB
            assert left and not any(_is_zombie(pid) for pid in left)
        assert tree.poll() is None
    finally:
        tree.kill()
        tree.wait()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
