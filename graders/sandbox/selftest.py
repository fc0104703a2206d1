"""Inside a sandbox, once per grader: can a submission be isolated and limited here?

graders.sandbox.preflight starts `python -m graders.sandbox.selftest` with the very
command line a kernel gets (same backend, same arguments), and this goes through what
every submission goes through, with the kernel's own code: the drop to the slot's uid
(as root), fresh user, mount, PID and IPC namespaces, a private scratch tmpfs, no
capabilities, the process and file-size limits; then it looks at the network (which
interfaces exist, whether the grader's loopback port answers). It prints one JSON object:

    {"failed": "<step>: <error>" or null, "isolated": bool, "interfaces": [...],
     "host_port": "refused" | "unreachable" | "open", "processes_limited": bool, "files_limited": bool}
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import resource
import signal
import socket
import sys

from graders.sandbox import kernel


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="graders.sandbox.selftest")
    parser.add_argument("--port", type=int, required=True, help="a port the grader listens on, on its loopback")
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("--isolate", action="store_true")
    parser.add_argument("--scratch", default=kernel.SCRATCH)
    args, _ = parser.parse_known_args(argv)  # the kernel's other arguments, which a sandbox may add
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails with EFBIG, as in the kernel
    kernel._set_folders(args.scratch, kernel.FILES)
    report: dict = {"failed": None, "isolated": args.isolate}
    try:
        if args.uid is not None:
            _step("drop to the slot's uid", kernel._drop_to, args.uid, args.gid if args.gid is not None else args.uid)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            _child(write, args)
        os.close(write)
        with os.fdopen(read) as results:
            report.update(json.loads(results.read() or '{"failed": "no report from the submission side"}'))
        os.waitpid(pid, 0)
    except _Failed as exc:
        report["failed"] = str(exc)
    print(json.dumps(report))


class _Failed(Exception):
    pass


def _step(name: str, action, *args):
    try:
        return action(*args)
    except OSError as exc:
        raise _Failed(f"{name}: {errno.errorcode.get(exc.errno, exc.errno)} ({os.strerror(exc.errno or 0)})") from None


def _child(write: int, args: argparse.Namespace) -> None:
    """What a submission's first child does (C1 then C2 of graders.sandbox.kernel), then the checks."""
    report: dict = {}
    try:
        if args.isolate:
            _step("new user, mount, PID and IPC namespaces (per submission)", kernel._enter_namespaces)
            if os.fork() != 0:  # C1 waits; its child is pid 1 of the new PID namespace
                os.wait()
                os._exit(0)
            _step("private scratch tmpfs", kernel._private_scratch, {"scratch_mb": 1}, 0)
        _step("dropping capabilities", kernel._drop_capabilities)
        report.update(_limits_and_network(args.port))
    except _Failed as exc:
        report["failed"] = str(exc)
    os.write(write, json.dumps(report).encode())
    os._exit(0)


def _limits_and_network(port: int) -> dict:
    report: dict = {"interfaces": sorted(name for _, name in socket.if_nameindex())}
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
            report["host_port"] = "open"
        except ConnectionRefusedError:
            report["host_port"] = "refused"
        except OSError:
            report["host_port"] = "unreachable"
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))  # this process and its parents already count
    try:
        child = os.fork()
        if child == 0:
            os._exit(0)
        os.waitpid(child, 0)
        report["processes_limited"] = False
    except BlockingIOError:
        report["processes_limited"] = True
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, 1))
    path = os.path.join(kernel.SCRATCH, "selftest-file-limit")
    try:
        with open(path, "wb", buffering=0) as f:
            f.write(b"1")  # up to the limit: written
            f.write(b"2")  # past it: EFBIG
        report["files_limited"] = False
    except OSError as exc:
        report["files_limited"] = exc.errno == errno.EFBIG
    finally:
        if os.path.exists(path):
            os.unlink(path)
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
