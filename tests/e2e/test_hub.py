"""End to end in a browser: a student fetches, solves, submits and reads feedback; another cannot
see it nor submit as her; the instructor sees both grades in nbgrader's formgrader.

Screenshots of every step go to test-artifacts/hub/.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time

import nbformat
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from graders.authoring.demo import fill_solutions
from graders.authoring.source import instructor_notebook
from graders.reports.table import grade_table
from graders.store import Store
from tests.e2e.conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, PASSWORD, Hub, users_processes

HW = "hw1_backprop"
GRADE_TIMEOUT_S = 150
expect.set_options(timeout=60_000)  # two cores shared: servers start and pages load slowly
HIDDEN = ("BEGIN HIDDEN TESTS", "manual_seed(1001)", "probe_try")  # from the hidden test cells' source


def report_row(course, student: str):  # noqa: ANN001, ANN201 - a Course; a pandas row
    store = Store(course.db_url, course.course_id)
    try:
        return grade_table(store, HW).set_index("student").loc[student]
    finally:
        store.close()


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
    expect(page.locator("#released_assignments_list")).to_be_visible()


def xsrf(context: BrowserContext, path: str) -> str:
    return next(c["value"] for c in context.cookies() if c["name"] == "_xsrf" and path.startswith(c["path"]))


def wait_for_grade(page: Page, hub: Hub, student: str) -> str:
    """Reload the grading service's page until the submission is graded; its state."""
    page.goto(f"{hub.url}/services/grading/")
    deadline = time.monotonic() + GRADE_TIMEOUT_S
    row = page.locator(f"tr.submission[data-student='{student}'][data-hw='{HW}']")
    while time.monotonic() < deadline:
        state = row.locator(".state").inner_text()
        if state in ("graded", "failed"):
            return state
        time.sleep(2)
        page.reload()
    raise AssertionError(f"{student}'s submission not graded in {GRADE_TIMEOUT_S} s: {state}")


def test_student_gets_graded_other_student_is_locked_out_and_instructor_sees_grades(hub: Hub) -> None:
    alice, bob, ines = "e2e-alice", "e2e-bob", "e2e-ines"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # Alice logs in; Bob and the instructor too, their servers starting meanwhile.
            context, page = login(browser, hub, alice)
            bob_context, bob_page = login(browser, hub, bob, wait=False)
            ines_context, ines_page = login(browser, hub, ines, wait=False)
            shot(page, "01-alice-logged-in")

            # Alice fetches HW1 in the Assignments tab.
            open_assignments(page)
            page.locator("#released_assignments_list .list_item", has_text=HW).first.get_by_role(
                "button", name="Fetch").click()
            expect(page.locator("#fetched_assignments_list .list_item", has_text=HW).first).to_be_visible()
            shot(page, "02-alice-fetched")

            # She fills in the solution cells of her copy (through her own server's contents API).
            api = f"{hub.url}/user/{alice}/api/contents/{HW}/{HW}.ipynb"
            fetched = nbformat.from_dict(page.request.get(api).json()["content"])
            solved = fill_solutions(fetched, instructor_notebook(hub.course, HW, HW))
            saved = page.request.put(api, data=json.dumps({"type": "notebook", "format": "json", "content": solved}),
                                     headers={"X-XSRFToken": xsrf(context, f"/user/{alice}/"),
                                              "Content-Type": "application/json"})
            assert saved.ok, saved.text()
            page.goto(f"{hub.url}/user/{alice}/notebooks/{HW}/{HW}.ipynb")
            expect(page.get_by_text("def ", exact=False).first).to_be_visible()
            shot(page, "03-alice-solution")

            # Submits: the server stamps it and queues the grading.
            page.goto(f"{hub.url}/user/{alice}/tree")
            open_assignments(page)
            page.locator("#fetched_assignments_list .list_item", has_text=HW).first.get_by_role(
                "button", name="Submit").click()
            expect(page.locator("#submitted_assignments_list", has_text=HW)).to_be_visible()
            shot(page, "04-alice-submitted")
            stamp = (hub.course.submission_dir(alice, HW) / "timestamp.txt").read_text()
            assert stamp.endswith("UTC") and stamp.startswith(time.strftime("%Y-%m-%d", time.gmtime()))

            # Bob tries to submit as Alice, with a token of his own: it lands as his submission.
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

            # Alice waits for her grade.
            assert wait_for_grade(page, hub, alice) == "graded"
            row = report_row(hub.course, alice)  # the hub shows the CSV report's final score, from the database
            full = row["final_score"]  # every autograded point; the manual questions wait for a grader
            assert full > 0
            expect(page.locator(f"tr.submission[data-student='{alice}'] .score")).to_have_text(
                f"{full:g} / {row['max_score']:g}")
            assert page.locator("tr.submission").count() == 1  # her own only
            shot(page, "05-alice-graded")

            # Opens the feedback: per-test names, points and messages; nothing of the hidden tests.
            page.goto(f"{hub.url}/user/{alice}/tree")
            open_assignments(page)
            page.locator("#submitted_assignments_list .list_item", has_text=HW).first.get_by_role(
                "button", name="Fetch Feedback").click()
            expect(page.locator("#submitted_assignments_list a", has_text="view feedback")).to_be_visible()
            shot(page, "06-alice-feedback-fetched")
            page.goto(f"{hub.url}/user/{alice}/files/{HW}/feedback/{stamp}/{HW}.html")
            expect(page.locator("#feedback-title")).to_contain_text(HW)
            expect(page.locator("tr.test.passed").first).to_be_visible()
            assert page.locator("tr.test.failed").count() == 0
            body = page.content()
            assert [marker for marker in HIDDEN if marker in body] == []
            shot(page, "07-alice-feedback")
            context.close()

            # Bob cannot open Alice's server, files or feedback.
            denied = bob_page.goto(f"{hub.url}/user/{alice}/files/{HW}/{HW}.ipynb")
            assert denied.status == 403
            shot(bob_page, "08-bob-alice-server-denied")
            other = bob_page.request.get(f"{hub.url}/services/grading/api/assignments/{HW}/feedback?student={alice}")
            assert other.status == 403
            denied = bob_page.goto(f"{hub.url}/services/grading/feedback/{HW}?student={alice}")
            assert denied.status == 403
            shot(bob_page, "09-bob-alice-feedback-denied")
            for path in (f"/home/{alice}/{HW}/{HW}.ipynb", hub.course.submission_dir(alice, HW) / f"{HW}.ipynb",
                         hub.course.autograded_dir(alice, HW) / f"{HW}.ipynb"):
                read = subprocess.run(["runuser", "-u", bob, "--", "cat", str(path)], capture_output=True, text=True)
                assert read.returncode != 0 and "Permission denied" in read.stderr, path
            assert wait_for_grade(bob_page, hub, bob) in ("graded", "failed")
            assert bob_page.locator("tr.submission").count() == 1  # his own only
            shot(bob_page, "10-bob-own-grade-only")
            bob_context.close()

            # The instructor sees both grades in the formgrader.
            ready(ines_page, ines)
            ines_page.goto(f"{hub.url}/user/{ines}/formgrader/manage_students")
            expect(ines_page.locator("table tr", has_text=alice)).to_contain_text(f"{full:g} / ")
            expect(ines_page.locator("table tr", has_text=bob)).to_be_visible()
            shot(ines_page, "11-instructor-formgrader-students")
            ines_page.goto(f"{hub.url}/user/{ines}/formgrader/gradebook/{HW}/{HW}")
            expect(ines_page.locator("table")).to_contain_text(f"{full:g} / {full:g}")
            shot(ines_page, "12-instructor-formgrader-hw1")
            ines_page.goto(f"{hub.url}/services/grading/")
            expect(ines_page.locator("tr.submission")).to_have_count(2)
            shot(ines_page, "13-instructor-all-submissions")
            ines_context.close()
        finally:
            browser.close()


def test_hub_stops_cleanly(hub: Hub) -> None:
    """After the browser test: stopping the hub stops its proxy, service and every user's server."""
    assert users_processes(), "the browser test should have left single-user servers running"
    hub.stop()
    assert hub.process.returncode == 0
    assert users_processes() == []
    ps = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True).stdout
    assert str(hub.course.root) not in ps  # the grading service
    assert f"--port {hub.port} " not in ps  # the proxy
