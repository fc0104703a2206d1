"""The report's figures (matplotlib, headless), each returned as PNG bytes."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # no display on a grading server

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from graders.reports.analytics import graded_rows  # noqa: E402
from graders.states import AttemptState  # noqa: E402

MAX_BARS = 40  # attempts shown one bar each; more become a histogram


def _png(fig: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def distribution(table: pd.DataFrame) -> bytes:
    """Histogram of final scores; failed and missing submissions are counted in the title, not as 0."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    scores = graded_rows(table)["final_score"].astype(float)
    max_score = float(table["max_score"].iloc[0]) if len(table) else 1.0
    ax.hist(scores, bins=np.linspace(0, max_score, 11), color="#4878cf", edgecolor="white")
    failed = table["status"].str.startswith("failed").sum()
    missing = (table["status"] == "missing").sum()
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel=f"final score (of {max_score:g})", ylabel="students",
           title=f"{len(scores)} with a score, {failed} failed, {missing} missing")
    return _png(fig)


def items(analysis: pd.DataFrame) -> bytes:
    """Per question: difficulty (mean fraction of points) and discrimination, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.35 * len(analysis) + 1.5), sharey=True)
    y = np.arange(len(analysis))
    axes[0].barh(y, analysis["difficulty"].fillna(0), color="#6acc65")
    axes[0].set(yticks=y, yticklabels=analysis["question"], xlim=(0, 1), xlabel="difficulty (mean / max)")
    axes[1].barh(y, analysis["discrimination"].fillna(0), color="#d65f5f")
    axes[1].axvline(0, color="black", linewidth=0.8)
    axes[1].set(xlim=(-1, 1), xlabel="discrimination (item-rest correlation)")
    axes[0].invert_yaxis()
    return _png(fig)


def score_vs_time(table: pd.DataFrame, due: object) -> bytes:
    """Final score against submission time, with the due date; late ones in orange."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    rows = graded_rows(table).dropna(subset=["submitted_at"])
    late = rows["hours_late"].astype(float) > 0
    times = pd.to_datetime(rows["submitted_at"])
    ax.scatter(times[~late], rows["final_score"][~late], label="on time", color="#4878cf")
    ax.scatter(times[late], rows["final_score"][late], label="late", color="#ee854a")
    if due is not None:
        ax.axvline(pd.Timestamp(due), color="black", linestyle="--", label="due")
    ax.set(xlabel="submitted (UTC)", ylabel="final score")
    ax.legend(loc="best")
    fig.autofmt_xdate()
    return _png(fig)


def runtimes(attempts: pd.DataFrame) -> bytes:
    """Wall time of every grading attempt, failed or lost ones in red: a bar each for a small class,
    a histogram beyond MAX_BARS attempts."""
    failed = attempts["state"] != AttemptState.DONE
    wall = attempts["wall_s"].astype(float).fillna(0)
    if len(attempts) > MAX_BARS:
        fig, ax = plt.subplots(figsize=(6, 3.2))
        ax.hist([wall[~failed], wall[failed]], bins=20, stacked=True, color=["#4878cf", "#d65f5f"],
                label=["done", "failed or lost"])
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set(xlabel="wall time per attempt (s)", ylabel="attempts")
        ax.legend(loc="best")
        return _png(fig)
    fig, ax = plt.subplots(figsize=(6, 0.3 * max(len(attempts), 1) + 1.5))
    labels = [f"{a.student}/{a.notebook} #{a.run_id}.{a.number}" for a in attempts.itertuples()]
    ax.barh(np.arange(len(attempts)), wall, color=np.where(failed, "#d65f5f", "#4878cf"))
    ax.set(yticks=np.arange(len(attempts)), yticklabels=labels, xlabel="wall time (s); red: failed or lost")
    ax.invert_yaxis()
    return _png(fig)
