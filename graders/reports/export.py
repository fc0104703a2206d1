"""Writing report files."""

from __future__ import annotations

from pathlib import Path

from graders.reports.table import grade_table
from graders.store import Store

FORMATS = ("csv",)


def write_report(store: Store, hw: str, fmt: str, out_dir: Path) -> Path:
    """Write `hw`'s report in `fmt` under `out_dir`; return the file's path."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{hw}.csv"
    grade_table(store, hw).to_csv(path, index=False)
    return path
