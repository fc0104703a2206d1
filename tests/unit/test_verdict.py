import numpy as np
import pytest

from graders.contract import CellRun
from graders.grading.verdict import compare, judge_assert, judge_probes
from graders.sandbox.values import encode

OPTIONS = {"weight": 1.0, "rtol": 1e-5, "atol": 1e-8, "exact": False, "min": None, "max": None}


def key(name, value, **options):
    return {"name": name, "value": encode(value), "options": {**OPTIONS, **options}}


def emitted(name, value):
    return {"op": "probe", "name": name, "value": encode(value), "options": OPTIONS}


def test_points_are_split_by_probe_weight_for_partial_credit():
    run = CellRun(status="ok", probes=[emitted("a", 1.0), emitted("b", 5.0)])
    verdict = judge_probes("t", 6, [key("a", 1.0, weight=2), key("b", 2.0, weight=1)], run)
    assert verdict.score == 4.0
    assert [p.passed for p in verdict.probes] == [True, False]


def test_a_missing_probe_costs_only_itself_and_says_what_raised():
    run = CellRun(status="error", probes=[emitted("a", 1.0)],
                  outputs=[{"output_type": "error", "ename": "NameError", "evalue": "MLP", "traceback": []}])
    verdict = judge_probes("t", 2, [key("a", 1.0), key("b", 2.0)], run, error="NameError: MLP")
    assert verdict.score == 1.0
    assert verdict.probes[1].message == "not produced: NameError: MLP"
    assert judge_probes("t", 2, [key("b", 2.0)], CellRun(status="not run")).probes[0].message == \
        "not produced (the cell did not run)"


def test_a_probe_emitted_twice_earns_nothing_even_if_one_value_is_right():
    run = CellRun(status="ok", probes=[emitted("a", 0.0), emitted("a", 1.0)])
    assert judge_probes("t", 1, [key("a", 1.0)], run).score == 0.0


def test_messages_never_reveal_the_expected_value():
    ok, message = compare(np.array([[0.123456, 2.0]]), np.array([[9.0, 9.0]]), OPTIONS)
    assert not ok and "0.12" not in message and "2.0" not in message


def test_a_failed_comparison_says_what_differs():
    assert compare(np.zeros((4, 3)), np.zeros((3, 4)), OPTIONS)[1] == "wrong shape: got (3, 4), expected (4, 3)"
    got = np.zeros((2, 3))
    got[1, 2] = 0.31
    assert compare(np.zeros((2, 3)), got, OPTIONS)[1] == \
        "values differ: largest error 0.31 at [1, 2] (tolerance: relative 1e-05, absolute 1e-08)"
    assert compare(2.5, 2.6, OPTIONS)[1] == "values differ: off by 0.1 (tolerance: relative 1e-05, absolute 1e-08)"
    for broken in (np.nan, np.inf, -np.inf):
        assert compare(np.ones(3), np.array([1.0, broken, 1.0]), OPTIONS)[1] == "NaN or inf in your result"
    assert compare({"w": np.zeros((2, 2)), "b": [np.zeros(2)]}, {"w": np.zeros((2, 2)), "b": [np.zeros(3)]},
                   OPTIONS)[1] == "['b'][0]: wrong shape: got (3,), expected (2,)"
    assert compare({"w": 1.0}, {"v": 1.0}, OPTIONS)[1] == "wrong keys: expected 'w', got 'v'"
    assert compare(0.9, 0.5, {**OPTIONS, "min": 0.8})[1] == "0.5 is below the minimum 0.8"


def test_a_restricted_message_says_the_kind_of_failure_and_what_the_key_fixes_only():
    """Nothing computed by the student's code (it could read hidden inputs): their shape, error, keys, share."""
    cases = [(np.zeros((4, 3)), np.zeros((17, 5)), "wrong shape: expected (4, 3)"),
             (np.zeros(3), np.array([0.0, 0.0, 123.0]), "values differ (tolerance: relative 1e-05, absolute 1e-08)"),
             (np.zeros(3), np.array([0.0, np.nan, 0.0]), "NaN or inf in your result"),
             ({"w": 1.0}, {"secret_17": 1.0}, "wrong keys: expected 'w'"),
             ([1.0, "a"], [1.0, "a", 17], "expected 2 items")]
    for expected, actual, said in cases:
        assert compare(expected, actual, OPTIONS, restricted=True) == (False, said)
    assert compare(0.9, 0.17, {**OPTIONS, "min": 0.8}, restricted=True)[1] == "below the minimum 0.8"
    labels = np.array([0, 1, 2, 1])
    assert compare(labels, np.zeros(4, dtype=int), {**OPTIONS, "agree": 0.9}, restricted=True)[1] == \
        "too few agree (needs 90%)"


def test_tolerances_accept_float32_noise_and_refuse_real_errors():
    expected = np.linspace(-1, 1, 10)
    assert compare(expected, expected.astype(np.float32).astype(np.float64), {**OPTIONS, "rtol": 1e-5, "atol": 1e-6})[0]
    assert not compare(expected, expected * 1.01, OPTIONS)[0]


def test_thresholds_compare_with_the_bound_not_the_instructor_value():
    options = {**OPTIONS, "min": 0.9}
    assert compare(0.97, 0.91, options)[0]
    assert not compare(0.97, 0.85, options)[0]
    assert not compare(0.97, "0.95", options)[0]


def test_exact_comparison_for_integers_and_structures():
    options = {**OPTIONS, "exact": True}
    assert compare([3, 4, (2, 2)], [3, 4, (2, 2)], options)[0]
    assert not compare(7, 8, options)[0]


def test_plain_assert_cells_pass_only_when_they_ran_without_error():
    assert judge_assert("t", 3, CellRun(status="ok")).score == 3
    assert judge_assert("t", 3, CellRun(status="error")).score == 0
    assert judge_assert("t", 3, CellRun(status="not run")).score == 0


def value(text):
    return {"output_type": "execute_result", "data": {"text/plain": text}, "metadata": {}, "execution_count": 1}


def stream(name, text):
    return {"output_type": "stream", "name": name, "text": text}


@pytest.mark.parametrize("text, score", [
    ("2", 2.0), ("0", 0.0), ("1.5", 1.5), ("np.float64(0.5)", 3.0), ("'two'", 3.0), ("-1", 3.0), ("4", 0.0),
])
def test_the_value_of_an_assert_cell_is_its_partial_credit_as_nbgrader_reads_it(text, score):
    # nbgrader's get_partial_grade: a number from 0 to the cell's points; what is not a number earns everything,
    # a negative number too; more than the points stops nbgrader's autograde, here it earns 0 with the reason.
    verdict = judge_assert("t", 3, CellRun(status="ok", outputs=[stream("stdout", "checking\n"), value(text)]))
    assert verdict.score == score
    assert text != "4" or "not a partial credit from 0 to 3" in verdict.message


def test_stderr_fails_an_assert_cell_as_in_nbgrader_unless_ignore_pattern_matches_it():
    warned = CellRun(status="ok", outputs=[stream("stderr", "UserWarning: NNPACK unsupported\n")])
    assert judge_assert("t", 2, warned).score == 0
    assert judge_assert("t", 2, warned, ignore_stderr="NNPACK").score == 2
    assert judge_assert("t", 2, warned, ignore_stderr="something else").score == 0



def test_agreement_counts_equal_labels_outside_the_kernel():
    options = {**OPTIONS, "agree": 0.9}
    expected = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 1])
    assert compare(expected, np.where(np.arange(10) == 3, 2, expected), options)[0]  # 9/10
    ok, message = compare(expected, np.zeros(10, dtype=int), options)
    assert not ok and message == "30% agree (needs 90%)"
