"""Grading, the coordinator's side: prepare a submission, judge its execution, record the result, penalties."""
