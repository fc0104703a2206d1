"""The `graders` command as a TA meets it: one-line errors and non-zero exits on bad input."""

import csv
import io
import json
import os
import subprocess
import sys

import pytest

import graders as graders_package


def graders(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "graders", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, env=env)


def test_unknown_homework_is_a_one_line_error(hw1_course):
    result = graders("autograde", "hw9_nothing", cwd=hw1_course.root)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: unknown homework 'hw9_nothing' (known: hw1_backprop)"]


def test_missing_student_folder_is_a_one_line_error(hw1_course):
    result = graders("autograde", "hw1_backprop", "--student", "nobody", cwd=hw1_course.root)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "no submission folder" in result.stderr


def test_outside_a_course_folder_is_a_one_line_error(tmp_path):
    result = graders("status", cwd=tmp_path)
    assert result.returncode == 1 and "not a course folder" in result.stderr


def test_generate_check_fails_on_a_stale_release(hw1_course):
    release = hw1_course.path("release", "hw1_backprop", "hw1_backprop.ipynb")
    notebook = json.loads(release.read_text())
    notebook["cells"][0]["source"] = "edited by hand"
    release.write_text(json.dumps(notebook))
    result = graders("generate", "hw1_backprop", "--check", cwd=hw1_course.root)
    assert result.returncode == 1 and "is stale" in result.stderr


LONG_ID = "alice-with-a-very-long-student-identifier-0123456789"


def test_status_shows_every_job_in_full_as_a_table_csv_or_json(hw1_course):
    from graders.grading.autograde import autograde
    from tests.helpers import solved_notebook, submit

    submit(hw1_course, LONG_ID, "hw1_backprop", solved_notebook(hw1_course, "hw1_backprop"))
    submit(hw1_course, "bob", "hw1_backprop", b"not a notebook")
    autograde(hw1_course, "hw1_backprop", workers=1)

    table = graders("status", "hw1_backprop", cwd=hw1_course.root)  # piped: nothing may be cut
    assert table.returncode == 0 and LONG_ID in table.stdout and "done" in table.stdout
    assert "…" not in table.stdout and "not valid JSON" in table.stdout

    rows = list(csv.DictReader(io.StringIO(graders("status", "--format", "csv", cwd=hw1_course.root).stdout)))
    assert [(r["student"], r["state"]) for r in rows] == [(LONG_ID, "done"), ("bob", "failed")]
    assert float(rows[0]["score"]) == float(rows[0]["max_score"]) == 100 and rows[0]["runner"]
    assert rows[1]["reason"].startswith("not valid JSON")

    [run] = json.loads(graders("status", "--format", "json", cwd=hw1_course.root).stdout)
    assert run["assignment"] == "hw1_backprop" and run["state"] == "done"
    assert [(j["student"], j["state"], j["attempts"]) for j in run["jobs"]] == [(LONG_ID, "done", 1), ("bob", "failed", 1)]


@pytest.mark.parametrize("args", [("autogarde", "hw1_backprop"), ("status", "--formt", "csv"),
                                  ("status", "--format", "xml"), ("autograde",)])
def test_a_mistyped_command_option_or_value_is_one_usage_line_and_exit_2(hw1_course, args):
    result = graders(*args, cwd=hw1_course.root)
    assert result.returncode == 2
    assert result.stdout == ""  # no help page, no progress bar
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and "(usage: " in line


def test_an_unknown_homework_draws_no_progress_bar(hw1_course):
    result = graders("autograde", "hw9_nothing", cwd=hw1_course.root)
    assert result.returncode == 1 and result.stdout == ""


def test_version():
    result = subprocess.run([sys.executable, "-m", "graders", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == f"graders {graders_package.__version__}"


def test_autograde_refuses_without_bubblewrap_unless_told_to_run_unsafe(hw1_course):

    from tests.helpers import solved_notebook, submit

    submit(hw1_course, "alice", "hw1_backprop", solved_notebook(hw1_course, "hw1_backprop"))
    no_bwrap = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # bwrap lives in /usr/bin
    refused = subprocess.run([sys.executable, "-m", "graders", "autograde", "hw1_backprop"], env=no_bwrap,
                             cwd=hw1_course.root, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: bubblewrap is not installed (apt-get install bubblewrap); "
        "pass --unsafe-no-sandbox to grade without isolation"]
    unsafe = subprocess.run([sys.executable, "-m", "graders", "autograde", "hw1_backprop", "--workers", "1",
                             "--unsafe-no-sandbox"], env=no_bwrap, cwd=hw1_course.root, capture_output=True,
                            text=True, timeout=600)
    assert unsafe.returncode == 0 and "WARNING: grading WITHOUT a sandbox" in unsafe.stderr
    status = graders("status", "hw1_backprop", cwd=hw1_course.root)
    assert "run 1 (done, none," in " ".join(status.stdout.split())


def test_bench_runs_the_repository_benchmark_with_its_own_options(tmp_path):
    result = graders("bench", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: bench_autograde.py") and "--skip-nbgrader" in result.stdout


def test_an_unknown_cluster_or_a_misplaced_runner_option_is_a_one_line_error(hw1_course):
    unknown = graders("autograde", "hw1_backprop", "--cluster", "cloud", cwd=hw1_course.root)
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines() == ["error: unknown cluster 'cloud' (known: local, remote, slurm)"]
    misplaced = graders("autograde", "hw1_backprop", "--cluster", "slurm", "--workers", "2", cwd=hw1_course.root)
    assert misplaced.returncode == 1 and len(misplaced.stderr.strip().splitlines()) == 1
    assert "--workers is for --cluster local" in misplaced.stderr
    no_scheduler = graders("autograde", "hw1_backprop", "--cluster", "remote", cwd=hw1_course.root)
    assert no_scheduler.returncode == 1 and "needs --scheduler" in no_scheduler.stderr


def _digest(path) -> str:  # noqa: ANN001 - a Path
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_status_report_and_history_read_without_writing_anything(hw1_course, tmp_path):
    from graders.grading.autograde import autograde
    from tests.helpers import solved_notebook, submit

    submit(hw1_course, "alice", "hw1_backprop", solved_notebook(hw1_course, "hw1_backprop"),
           timestamp="2026-12-05 12:00:00 UTC")  # late: the course's policy takes 10 % a day
    autograde(hw1_course, "hw1_backprop", workers=1)
    config = hw1_course.path("nbgrader_config.py")
    config.write_text(config.read_text() + "\nc.PercentPerDay.percent_per_day = 50\n")  # the policy changed
    database = hw1_course.path("gradebook.db")
    before = _digest(database)
    assert graders("status", cwd=hw1_course.root).returncode == 0
    assert graders("history", "hw1_backprop", "alice", cwd=hw1_course.root).returncode == 0
    report = graders("report", "hw1_backprop", "--out", str(tmp_path), cwd=hw1_course.root)
    assert report.returncode == 0 and (tmp_path / "hw1_backprop.csv").is_file()
    assert report.stderr.strip() == ("warning: the late penalties of 1 student(s) in hw1_backprop do not follow the "
                                     "course's due date, extensions or policy any more: run `graders penalties "
                                     "hw1_backprop`")
    assert _digest(database) == before  # no migration, no penalty, no audit event written
    assert graders("penalties", "hw1_backprop", cwd=hw1_course.root).returncode == 0
    assert _digest(database) != before
    assert graders("report", "hw1_backprop", "--out", str(tmp_path), cwd=hw1_course.root).stderr == ""


def test_read_only_commands_create_no_database_and_refuse_an_outdated_one(hw1_course):
    from sqlalchemy import create_engine, text

    from graders.store import Store

    fresh = hw1_course.path("gradebook.db")
    fresh.rename(hw1_course.path("kept.db"))
    status = graders("status", cwd=hw1_course.root)
    assert (status.returncode, status.stdout.strip()) == (0, "no grading runs yet")
    assert graders("history", "hw1_backprop", "bob", cwd=hw1_course.root).returncode == 0
    report = graders("report", "hw1_backprop", cwd=hw1_course.root)
    assert report.returncode == 1 and "no homework in the gradebook yet" in report.stderr
    assert not fresh.exists()  # opening a database to read it never creates one

    hw1_course.path("kept.db").rename(fresh)
    Store(hw1_course.db_url, hw1_course.course_id).close()  # the platform's tables, as any grading makes them
    engine = create_engine(f"sqlite:///{fresh}")
    with engine.begin() as connection:  # as a database left by an older graders
        connection.execute(text("UPDATE graders_alembic_version SET version_num = '0003'"))
    engine.dispose()
    before = _digest(fresh)
    outdated = graders("status", cwd=hw1_course.root)
    assert outdated.returncode == 1
    [line] = outdated.stderr.strip().splitlines()
    assert "is at revision 0003" in line and "run `graders autograde`" in line
    assert _digest(fresh) == before
