"""The HTML report opens in a real headless Chromium (installed by `make`); a screenshot is kept."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from PIL import Image

from graders.reports.export import write_report
from graders.store import Store
from tests.conftest import REPO
from tests.reports.conftest import HW

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "chromium"  # the Makefile installs it; missing, the test fails


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    # --no-sandbox: tests run as root in CI, where Chromium's own sandbox refuses to start
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args],
                          capture_output=True, text=True, timeout=90)


def test_html_report_renders_in_headless_chromium_without_errors(store: Store, tmp_path: Path):
    report = write_report(store, HW, "html", tmp_path)
    dom = chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<img") == 4 and "failed: timeout" in dom.stdout
    assert "Uncaught" not in dom.stderr and "Not allowed to load local resource" not in dom.stderr

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"{HW}_report.png"
    screenshot.unlink(missing_ok=True)
    shot = chromium("--window-size=1100,2400", f"--screenshot={screenshot}", report.as_uri(),
                    profile=tmp_path / "profile")
    assert shot.returncode == 0, shot.stderr[-2000:]
    with Image.open(screenshot) as image:
        assert image.size == (1100, 2400)
        colours = image.convert("RGB").resize((110, 240)).getcolors(maxcolors=100_000)
    assert len(colours) > 50  # the plots were drawn, not a blank page
