"""End to end in a browser, as students do it: log in, fetch the homework in the Assignments tab, type an
answer in the real notebook interface, run it, save, submit, watch "grading" turn into the score in the
interface without a reload, open the feedback and read what failed; a French student does the same in
French. Another student can neither see it nor submit as her; the instructor sees the grades in
nbgrader's formgrader.

The homework was due two hours ago (tests/e2e/conftest.py): every score shown is the late-penalised one,
checked against `graders report --format csv`. Screenshots of every step go to test-artifacts/hub/.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import nbformat
import pandas as pd
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from graders import cells, i18n
from graders.authoring.demo import fill_solutions
from graders.authoring.source import instructor_notebook
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, FRENCH_STUDENT, HW, PASSWORD, Hub, users_processes

GRADE_TIMEOUT_MS = 240_000  # the first grading starts the service's runner; two cores are shared
expect.set_options(timeout=60_000)  # servers start and pages load slowly
HIDDEN = ("BEGIN HIDDEN TESTS", "manual_seed(6006)", "probe_try")  # from the hidden test cells' source
TYPED_CELL = "losses"
# The student's answer, typed in the notebook: a right cross-entropy, and a mean squared error whose
# gradient is summed over the batch (shape (n_out,) instead of (batch, n_out)): its hidden probes fail.
ANSWER = ["mse_loss = lambda y, y_hat: (((y_hat - y) ** 2).mean(), (2 * (y_hat - y) / y.numel()).sum(dim=0))",
          "bce_loss = lambda y, y_hat: (-(y * torch.log(y_hat) + (1 - y) * torch.log(1 - y_hat)).mean(), "
          "(y_hat - y) / (y_hat * (1 - y_hat)) / y.numel())"]
GRADERS = str(Path(sys.executable).parent / "graders")


@dataclass(frozen=True)
class Words:
    """What a student reads, in their language (graders/locale; the notebook from the release)."""

    lang: str
    notebook_title: str  # the homework's first heading in that language
    grades_tab: str
    waiting: tuple[str, ...]  # queued, grading
    graded: str
    feedback_title: str
    failed_message: str  # the grader's message for a hidden probe of the wrong shape
    late: str


ENGLISH = Words("en", "HW1: backpropagation by hand", "Grades", ("queued", "grading"), "graded", "Feedback: ",
                "wrong shape: expected (6, 4)", "late penalty")
FRENCH = Words("fr", "Devoir 1 : la rétropropagation à la main", "Notes", ("en attente", "en cours de correction"),
               "corrigé", "Retour sur votre devoir : ", "mauvaise forme : (6, 4) attendue", "pénalité de retard")


def csv_report(hub: Hub, tmp_path: Path) -> pd.DataFrame:
    """`graders report HW --format csv` of the hub's course, by student."""
    done = subprocess.run([GRADERS, "report", HW, "--format", "csv", "--out", str(tmp_path), "--course",
                           str(hub.course.root)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return pd.read_csv(tmp_path / f"{HW}.csv").set_index("student")


def login(browser, hub: Hub, user: str, wait: bool = True) -> tuple[BrowserContext, Page]:  # noqa: ANN001
    """Log `user` in; the hub starts their server (`wait=False`: in the background, see `ready`)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", user)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    if wait:
        ready(page, user)
    return context, page


def ready(page: Page, user: str) -> None:
    page.wait_for_url(f"**/user/{user}/tree**", timeout=90_000)


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_assignments(page: Page) -> None:
    page.get_by_text("Nbgrader", exact=True).click()
    page.get_by_text("Assignment List").click()
    page.get_by_role("tab", name="Assignments").click()  # a tab opened before may be behind another
    expect(page.locator("#released_assignments_list")).to_be_visible()


def xsrf(context: BrowserContext, path: str) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "_xsrf" and path.startswith(c["path"]))


def fill_other_answers(page: Page, context: BrowserContext, hub: Hub, student: str) -> None:
    """Every answer but TYPED_CELL's, as if the student had written them before (contents API of their server)."""
    api = f"{hub.url}/user/{student}/api/contents/{HW}/{HW}.ipynb"
    fetched = nbformat.from_dict(page.request.get(api).json()["content"])
    solved = fill_solutions(fetched, instructor_notebook(hub.course, HW, HW))
    for cell, released in zip(solved.cells, fetched.cells):
        if cells.grade_id(cell) == TYPED_CELL:
            cell.source = released.source
    saved = page.request.put(api, data=json.dumps({"type": "notebook", "format": "json", "content": solved}),
                             headers={"X-XSRFToken": xsrf(context, f"/user/{student}/"),
                                      "Content-Type": "application/json"})
    assert saved.ok, saved.text()


def type_answer_run_and_save(page: Page, hub: Hub, student: str, words: Words) -> None:
    """In the notebook interface: replace the answer cell's code by ANSWER, run it, save."""
    page.goto(f"{hub.url}/user/{student}/notebooks/{HW}/{HW}.ipynb")
    expect(page.locator(".jp-MarkdownCell").first).to_contain_text(words.notebook_title)
    code_cells = page.locator(".jp-CodeCell")
    expect(code_cells.filter(has_text="def mse_loss").first).to_be_visible()
    cell = code_cells.nth(next(i for i, text in enumerate(code_cells.all_text_contents()) if "def mse_loss" in text))
    # Typed and run before the new kernel is idle, a cell may never run (its request sent before the kernel's
    # channels are up): wait as a student waits for the kernel's circle to go blank.
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_have_count(1, timeout=90_000)
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    for line in ANSWER:
        page.keyboard.type(line)
        page.keyboard.press("Enter")
    page.keyboard.press("Shift+Enter")  # runs it in the student's kernel
    expect(cell.locator(".jp-InputPrompt")).to_contain_text(re.compile(r"\[\d+\]"), timeout=90_000)
    page.keyboard.press("Control+S")
    api = f"{hub.url}/user/{student}/api/contents/{HW}/{HW}.ipynb"
    deadline = time.monotonic() + 30
    while ANSWER[0] not in page.request.get(api).text():
        assert time.monotonic() < deadline, "the notebook was not saved"
        time.sleep(1)


# Every (data-state, text) the top bar's state takes, in order: a state shown between two of Playwright's
# polls is seen too.
RECORD_INDICATOR_STATES = """() => {
  window.gradersStates = [];
  const record = () => {
    const node = document.querySelector('#graders-indicator .graders-indicator-state');
    const now = node ? [node.dataset.state, node.textContent.trim()] : null;
    const last = window.gradersStates[window.gradersStates.length - 1];
    if (now && (!last || last[0] !== now[0] || last[1] !== now[1])) { window.gradersStates.push(now); }
  };
  record();
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, characterData: true,
                                                       attributes: true});
}"""


def submit_and_watch_the_grade(page: Page, student: str, words: Words) -> str:
    """Submit in the Assignments tab, then see in the top bar, with no reload, the submission waiting or being
    graded, then graded; the score shown."""
    page.goto(page.url.split("/user/")[0] + f"/user/{student}/tree")
    open_assignments(page)
    page.evaluate("window.gradersSamePage = true")  # gone if the page reloads
    page.evaluate(RECORD_INDICATOR_STATES)
    page.locator("#fetched_assignments_list .list_item", has_text=HW).first.get_by_role("button", name="Submit").click()
    expect(page.locator("#submitted_assignments_list", has_text=HW)).to_be_visible()
    state = page.locator("#graders-indicator .graders-indicator-state")
    expect(page.locator("#graders-indicator")).to_contain_text(HW)
    shot(page, f"{student}-05-submitted")
    expect(state).to_have_attribute("data-state", "graded", timeout=GRADE_TIMEOUT_MS)
    expect(state).to_have_text(words.graded)
    shown = page.evaluate("window.gradersStates")
    waiting = [text for data_state, text in shown if data_state in ("queued", "grading")]
    assert waiting and set(waiting) <= set(words.waiting), shown  # queued or grading was shown before graded
    assert page.evaluate("window.gradersSamePage") is True
    shot(page, f"{student}-06-graded-in-the-interface")
    return page.locator("#graders-indicator .graders-indicator-score").inner_text()


def read_the_feedback(context: BrowserContext, page: Page, student: str, words: Words) -> Page:
    """The Grades tab lists the homework; its feedback link opens the feedback page: a failed test explained."""
    page.get_by_text(words.grades_tab, exact=True).click()
    row = page.locator("#graders-grades tr.graders-homework", has_text=HW)
    expect(row.locator(".graders-state")).to_have_text(words.graded)
    expect(row.locator(".graders-details")).to_contain_text(words.late)
    shot(page, f"{student}-07-grades-tab")
    with context.expect_page() as opened:
        row.locator("a.graders-feedback-link").click()
    feedback = opened.value
    expect(feedback.locator("#feedback-title")).to_have_text(f"{words.feedback_title}{HW}")
    failed = feedback.locator("table.attention tr.test.failed", has_text=words.failed_message)
    expect(failed.first).to_be_visible()
    assert feedback.locator("html").get_attribute("lang") == words.lang
    body = feedback.content()
    assert [marker for marker in HIDDEN if marker in body] == []
    shot(feedback, f"{student}-08-feedback")
    return feedback


def solve_submit_and_read(hub: Hub, context: BrowserContext, page: Page, student: str,
                          words: Words) -> tuple[str, Page]:
    shot(page, f"{student}-01-logged-in")
    open_assignments(page)
    page.locator("#released_assignments_list .list_item", has_text=HW).first.get_by_role("button", name="Fetch").click()
    expect(page.locator("#fetched_assignments_list .list_item", has_text=HW).first).to_be_visible()
    shot(page, f"{student}-02-fetched")
    fill_other_answers(page, context, hub, student)
    type_answer_run_and_save(page, hub, student, words)
    shot(page, f"{student}-03-answer-typed-run-saved")
    score = submit_and_watch_the_grade(page, student, words)
    return score, read_the_feedback(context, page, student, words)


def shown_score(row: pd.Series, lang: str) -> str:
    return f"{i18n.points(row['final_score'], lang)} / {i18n.points(row['max_score'], lang)}"


def test_a_student_submits_and_sees_her_late_grade_and_feedback_others_are_locked_out(hub: Hub, tmp_path: Path):
    alice, bob, ines = "e2e-alice", "e2e-bob", "e2e-ines"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context, page = login(browser, hub, alice)
            bob_context, bob_page = login(browser, hub, bob, wait=False)  # their servers start meanwhile
            ines_context, ines_page = login(browser, hub, ines, wait=False)
            score, feedback = solve_submit_and_read(hub, context, page, alice, ENGLISH)
            stamp = (hub.course.submission_dir(alice, HW) / "timestamp.txt").read_text()
            assert stamp.endswith("UTC") and stamp.startswith(time.strftime("%Y-%m-%d", time.gmtime()))

            # Late: the interface shows the penalised score, the CSV report's final_score.
            row = csv_report(hub, tmp_path).loc[alice]
            assert row["late_penalty"] > 0 and row["final_score"] < row["raw_score"]
            assert score == shown_score(row, "en")
            expect(feedback.locator("#total")).to_contain_text(shown_score(row, "en"))

            # A homework name with markup in it, through the real service: shown as text.
            hostile = "<img src=x onerror=alert(1)>"
            answer = feedback.goto(f"{hub.url}/services/grading/feedback/{quote(hostile)}")
            assert answer.status == 404 and "&lt;img src=x onerror=alert(1)&gt;" in feedback.content()
            assert feedback.locator("img").count() == 0
            shot(feedback, f"{alice}-09-hostile-name-as-text")

            # nbgrader's own Assignments tab still fetches the feedback, from the same template.
            open_assignments(page)
            page.locator("#submitted_assignments_list .list_item", has_text=HW).first.get_by_role(
                "button", name="Fetch Feedback").click()
            expect(page.locator("#submitted_assignments_list a", has_text="view feedback")).to_be_visible()
            page.goto(f"{hub.url}/user/{alice}/files/{HW}/feedback/{stamp}/{HW}.html")
            expect(page.locator("#feedback-title")).to_have_text(f"Feedback: {HW}")
            expect(page.locator("tr.test.failed", has_text=ENGLISH.failed_message).first).to_be_visible()
            shot(page, f"{alice}-10-feedback-fetched-in-assignments-tab")
            context.close()

            # Bob cannot submit as Alice, even with a token of his own: it lands as his submission.
            ready(bob_page, bob)
            cookie_only = bob_page.request.post(f"{hub.url}/services/grading/api/assignments/{HW}/submit",
                                                data=json.dumps({"files": {}}))
            assert cookie_only.status == 403
            token = bob_page.request.post(f"{hub.url}/hub/api/users/{bob}/tokens",
                                          data=json.dumps({"scopes": ["access:services!service=grading"],
                                                           "expires_in": 600}),
                                          headers={"X-XSRFToken": xsrf(bob_context, "/hub/"),
                                                   "Content-Type": "application/json"})
            assert token.ok, token.text()
            blank = nbformat.writes(nbformat.read(hub.course.path("release", HW, f"{HW}.ipynb"), as_version=4))
            forged = bob_page.request.post(
                f"{hub.url}/services/grading/api/assignments/{HW}/submit?student={alice}",
                data=json.dumps({"files": {f"{HW}.ipynb": base64.b64encode(blank.encode()).decode()},
                                 "student": alice}),
                headers={"Authorization": f"token {token.json()['token']}"})
            assert forged.ok and forged.json()["student"] == bob
            assert (hub.course.submission_dir(alice, HW) / "timestamp.txt").read_text() == stamp

            # Nor open Alice's server, files or feedback.
            denied = bob_page.goto(f"{hub.url}/user/{alice}/files/{HW}/{HW}.ipynb")
            assert denied.status == 403
            shot(bob_page, "bob-alice-server-denied")
            other = bob_page.request.get(f"{hub.url}/services/grading/api/assignments/{HW}/feedback?student={alice}")
            assert other.status == 403
            denied = bob_page.goto(f"{hub.url}/services/grading/feedback/{HW}?student={alice}")
            assert denied.status == 403
            shot(bob_page, "bob-alice-feedback-denied")
            for path in (f"/home/{alice}/{HW}/{HW}.ipynb", hub.course.submission_dir(alice, HW) / f"{HW}.ipynb",
                         hub.course.autograded_dir(alice, HW) / f"{HW}.ipynb"):
                read = subprocess.run(["runuser", "-u", bob, "--", "cat", str(path)], capture_output=True, text=True)
                assert read.returncode != 0 and "Permission denied" in read.stderr, path
            bob_page.goto(f"{hub.url}/services/grading/")
            expect(bob_page.locator("tr.submission")).to_have_count(1)  # his own only
            expect(bob_page.locator("tr.submission")).to_have_attribute("data-student", bob)
            shot(bob_page, "bob-own-submission-only")
            bob_context.close()

            # The instructor sees Alice's grade in the formgrader.
            ready(ines_page, ines)
            ines_page.goto(f"{hub.url}/user/{ines}/formgrader/manage_students")
            expect(ines_page.locator("table tr", has_text=alice)).to_contain_text(
                f"{round(row['raw_score'], 2):g} / ")  # the formgrader rounds to 2 decimals (roundToPrecision)
            expect(ines_page.locator("table tr", has_text=bob)).to_be_visible()
            shot(ines_page, "ines-formgrader-students")
            ines_context.close()
        finally:
            browser.close()


def test_a_french_student_does_the_same_in_french(hub: Hub, tmp_path: Path):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context, page = login(browser, hub, FRENCH_STUDENT)
            score, _ = solve_submit_and_read(hub, context, page, FRENCH_STUDENT, FRENCH)
            assert score == shown_score(csv_report(hub, tmp_path).loc[FRENCH_STUDENT], "fr")
            context.close()
        finally:
            browser.close()


def test_hub_stops_cleanly(hub: Hub) -> None:
    """After the browser tests: stopping the hub stops its proxy, service and every user's server."""
    assert users_processes(), "the browser tests should have left single-user servers running"
    hub.stop()
    assert hub.process.returncode == 0
    assert users_processes() == []
    ps = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
    assert str(hub.course.root) not in ps  # the grading service
    assert f"--port {hub.port} " not in ps  # the proxy
