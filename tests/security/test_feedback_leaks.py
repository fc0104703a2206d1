"""Feedback cannot carry what student code computes while a hidden test runs.

A hidden test calls the student's function, so the function can read the test's
source, seed and inputs (call stack, globals, IPython's history) and try to get them
out through the feedback: in an exception's message, in the name of an exception
class of its own, in a value kept for a later visible test, or in a frame sent to
the grader that the grader might quote in its reason. None of it may reach the
feedback a student reads; a visible test that runs before any hidden code keeps its
full message. The TA's autograded notebook keeps everything (that is how the checks
know each attack ran).
"""

from __future__ import annotations

import json
import secrets

import nbformat
import pytest

from graders.course import Course
from graders.hub import feedback, pages
from graders.states import JobState, SubmissionState
from tests.helpers import records
from tests.realworld.conftest import answered, autograded, hand_in, locked, make_course, run_graders, solution

HW = "leak"
TOKEN = secrets.token_hex(6)
SEED = secrets.randbelow(9 * 10**8) + 10**8  # nine digits, in the hidden test's source only
HIDDEN_TEST = f"""### BEGIN HIDDEN TESTS
SEED = {SEED}  # CANARY{TOKEN}
secret_input = SEED % 1000
probe("hidden", f(secret_input))
### END HIDDEN TESTS"""

# Every frame up the stack: its locals and its cell's source, and IPython's input history;
# the lines that mention the seed come first, to fit any message cut short.
LOOT = '''import linecache, re, sys
STOLEN = ""
def loot():
    global STOLEN
    parts, frame = [], sys._getframe(2)
    while frame is not None:
        parts.append(repr({k: v for k, v in frame.f_locals.items() if isinstance(v, (int, str))}))
        parts.append("".join(linecache.getlines(frame.f_code.co_filename)))
        frame = frame.f_back
    parts.append(str(get_ipython().user_ns.get("In", "")))
    text = "\\n".join(parts)
    print(text)
    hot = " | ".join(re.findall("SE" + "ED = [0-9]+ *#? *[A-Za-z0-9]*", text))[:180]
    STOLEN = STOLEN or hot
    return STOLEN
'''
ATTACKS = {
    # the loot in a ValueError, at the hidden call and at every later call
    "atk_message": LOOT + "def f(x):\n    raise ValueError(loot())\n",
    # the loot in the name of an exception class of its own
    "atk_class": LOOT + "def f(x):\n    stolen = loot()\n"
                        "    raise type('Leak_' + re.sub(r'\\W', '_', stolen)[:100], (Exception,), {})()\n",
    # the loot as the operation of a frame sent to the grader
    "atk_frame": LOOT + "from graders import probes\ndef f(x):\n    stolen = loot()\n"
                        "    if stolen:\n        probes._emit({'op': stolen})\n    return 2 * x\n",
}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory: pytest.TempPathFactory) -> Course:
    course = make_course(tmp_path_factory.mktemp("leak") / "course", HW, {HW: [
        locked("setup", "from graders.probes import probe"),
        solution("answer", "def f(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"),
        autograded("test_visible", "probe('visible', f(3))", 1),
        autograded("test_hidden", HIDDEN_TEST, 1),
        autograded("test_later", "probe('later', f(5))", 1)]})
    run_graders(course, "generate", HW)
    answers = {"honest": "def f(x):\n    return 2 * x", "loud": "def f(x):\n    raise ValueError(f'loud and clear {x}')",
               **ATTACKS}
    for student, source in answers.items():
        hand_in(course, student, HW, {HW: answered(course, HW, HW, {"answer": source})})
    run_graders(course, "autograde", HW, "--workers", "1")
    return course


def student_view(course: Course, student: str) -> tuple[dict, str]:
    """The feedback the hub serves `student` (JSON and page), with the status its grading left."""
    built = feedback.build(course.autograded_dir(student, HW) / f"{HW}.ipynb")
    job = records(course)[0][student][-1]
    state = SubmissionState.GRADED if job.state == JobState.DONE else SubmissionState.FAILED
    status = {"state": state, "reason": job.reason and f"{HW}: {job.reason}",
              "timestamp": "2026-11-20 10:00:00.000000 UTC"}
    return {"status": status, "notebooks": [built]}, pages.feedback_page(HW, [built], status, "en")


def messages(view: dict) -> dict[str, str]:
    return {test["name"]: test["message"] for question in view["notebooks"][0]["questions"]
            for test in question["tests"]}


@pytest.mark.parametrize("student", sorted(ATTACKS))
def test_no_hidden_source_seed_or_input_reaches_the_students_feedback(graded_class: Course, student: str):
    ta_notebook = graded_class.autograded_dir(student, HW) / f"{HW}.ipynb"
    assert str(SEED) in ta_notebook.read_text(), "the attack did not run: the check would be blind"
    view, page = student_view(graded_class, student)
    for text in (json.dumps(view), page):
        assert str(SEED) not in text and TOKEN not in text and "secret_input" not in text
    assert messages(view)["hidden"].startswith("not produced") or view["status"]["reason"]


def test_hidden_and_later_tests_say_the_builtin_type_and_the_students_line_only(graded_class: Course):
    view, _ = student_view(graded_class, "loud")
    assert messages(view) == {
        # ran before any hidden code: in full
        "visible": "not produced: your code raised ValueError in cell `answer`, line 2: loud and clear 3",
        "hidden": "not produced: your code raised ValueError in cell `answer`, line 2",
        "later": "not produced: your code raised ValueError in cell `answer`, line 2"}
    raise_line = len(ATTACKS["atk_class"].splitlines())  # its last line raises
    assert messages(student_view(graded_class, "atk_class")[0])["hidden"] == \
        f"not produced: your code raised an exception in cell `answer`, line {raise_line}"


def test_an_honest_student_gets_every_point(graded_class: Course):
    view, _ = student_view(graded_class, "honest")
    assert (view["notebooks"][0]["score"], view["notebooks"][0]["max_score"]) == (3, 3)
    assert set(messages(view).values()) == {"passed"}
    assert nbformat.read(graded_class.autograded_dir("honest", HW) / f"{HW}.ipynb", as_version=4)
