"""The runner's store of job files, one read-only file per content, named by its sha256.

A warm kernel owns one store, a private folder on the runner that its sandbox sees read-only
(backends.FILES). A homework's files are written once and serve every submission the kernel
grades; a student's own files are removed when the job ends. The kernel places each job's
files from here into the submission's working folder (graders.sandbox.kernel), so no file's
bytes ever cross the wire.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from graders.contract import JobFile


class FileStore:
    """A folder of `<sha256>` files (mode 0444) that only the runner writes."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="graders-files-"))
        self.root.chmod(0o711)  # the sandbox's unprivileged uid may open a file it is told the name of

    def put(self, files: Iterable[JobFile], contents: Mapping[str, bytes]) -> None:
        """Store each file's content unless it is here already; `contents` holds at least the others."""
        for file in files:
            target = self.root / file.sha256
            if target.exists():
                continue
            if file.sha256 not in contents:
                raise RuntimeError(f"the content of {file.path} did not reach the runner")
            partial = self.root / f".{file.sha256}.partial"
            partial.write_bytes(contents[file.sha256])
            partial.chmod(0o444)
            partial.replace(target)

    def discard(self, files: Iterable[JobFile]) -> None:
        """Remove the student's own files of a job that has ended (the homework's stay)."""
        for file in files:
            if not file.read_only:
                (self.root / file.sha256).unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
