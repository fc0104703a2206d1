"""What feedback may say about a test cell: full text before hidden tests ran, fixed phrases from then on."""

from __future__ import annotations

import nbformat

from graders.contract import CellRun
from graders.grading.disclosure import Disclosure
from graders.grading.verdict import judge_assert, judge_probes
from graders.sandbox.values import encode

SECRET = "SEED=8675309"
OPTIONS = {"weight": 1.0, "rtol": 1e-5, "atol": 1e-8, "exact": False, "min": None, "max": None}


def cell(source: str, grade_id: str | None = None, *, solution: bool = False, test: bool = False):
    meta = {}
    if grade_id:
        meta = {"nbgrader": {"grade_id": grade_id, "solution": solution, "grade": test, "locked": not solution,
                             "points": 1 if test else 0, "schema_version": 3}}
    return nbformat.v4.new_code_cell(source, metadata=meta)


def notebook():
    return nbformat.v4.new_notebook(cells=[
        cell("import math"),                                                    # In[1], code cell 1
        cell("def f(x):\n    y = x\n    raise ValueError(y)", "answer", solution=True),  # In[2], cell 2
        cell("assert f(1) == 1", "test_visible", test=True),                    # In[3], cell 3
        cell(""),                                                               # blank: not counted
        nbformat.v4.new_markdown_cell("text"),
        cell(f"### BEGIN HIDDEN TESTS\n{SECRET}\nf(SEED)\n### END HIDDEN TESTS", "test_hidden", test=True),  # [4]
        cell("def g():\n    return 1", None),                                   # In[5], code cell 6
        cell("assert g() == 2", "test_after", test=True),                       # In[6]
    ])


def error(ename: str, evalue: str, *frames: str) -> CellRun:
    return CellRun(status="error", outputs=[{"output_type": "error", "ename": ename, "evalue": evalue,
                                             "traceback": list(frames)}])


def test_tests_from_the_first_hidden_one_on_are_restricted_and_earlier_ones_are_not():
    disclosure = Disclosure.of(notebook())
    assert [disclosure.restricted(i) for i in (2, 5, 7)] == [False, True, True]
    assert not Disclosure.of(nbformat.v4.new_notebook(cells=notebook().cells[:3])).restricted(2)


def test_a_visible_test_before_hidden_code_keeps_the_full_error():
    run = error("ValueError", "1 is not 2", "Cell In[3], line 1", "Cell In[2], line 3, in f(x)")
    assert Disclosure.of(notebook()).describe_error(2, run) == "your code raised ValueError in cell `answer`, line 3: 1 is not 2"


def test_a_hidden_test_says_the_builtin_type_and_the_students_own_cells_and_lines_only():
    run = error("ValueError", SECRET, f"Cell In[4], line 3 {SECRET}", "Cell In[2], line 3, in f(x)\n"
                "----> 3     raise ValueError(y)", f"ValueError: {SECRET}")
    assert Disclosure.of(notebook()).describe_error(5, run) == "your code raised ValueError in cell `answer`, line 3"


def test_a_students_own_exception_class_is_not_named_and_forged_frames_are_dropped():
    forged = ["Cell In[4], line 2",  # the hidden test cell itself: not the student's
              "Cell In[2], line 99",  # no such line
              "Cell In[42], line 1",  # no such cell
              "\x1b[31mCell In[5], line 2\x1b[0m"]  # colours are ignored
    run = error(f"Leak_{SECRET.replace('=', '_')}", SECRET, *forged)
    assert Disclosure.of(notebook()).describe_error(7, run) == "your code raised an exception in code cell 6, line 2"


def test_probe_messages_of_a_restricted_cell_carry_no_value_computed_by_the_student():
    expected = {"name": "p", "value": encode([1.0, 2.0]), "options": OPTIONS}
    wrong_shape = CellRun(status="ok", probes=[{"name": "p", "value": encode(list(range(17)))}])
    twice = CellRun(status="ok", probes=[{"name": "p", "value": encode([1.0, 2.0])}] * 5)
    assert judge_probes("t", 1, [expected], wrong_shape).probes[0].message == "wrong shape: got (17,), expected (2,)"
    # the expected shape is the key's, the same for every student; the student's own is not said
    assert judge_probes("t", 1, [expected], wrong_shape, restricted=True).probes[0].message == \
        "wrong shape: expected (2,)"
    assert judge_probes("t", 1, [expected], twice, restricted=True).probes[0].message == "emitted more than once"


def test_an_assert_test_says_what_raised_as_disclosed():
    run = error("AssertionError", "", "Cell In[6], line 1")
    assert judge_assert("t", 1, run, error="AssertionError raised").message == "test cell failed: AssertionError raised"
