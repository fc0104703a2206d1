"""The hub's pages as Jinja2 templates (graders/hub/templates/), escaped, in the reader's language.

Every page the grading service renders (its home page, a submission's feedback, an error) and the
feedback file the Assignments tab fetches go through `render`: autoescaping is on for all of them, so a
student id or a homework name is text, never markup. Sentences come from the message catalog
(graders.i18n) through Jinja2's i18n extension. `submission_view` is what every place that shows a
submission says of it (its state, score with the late penalty, why it failed, what the submission
policy leaves): the home page, the feedback page and the student's Jupyter (api/grades).
"""

from __future__ import annotations

import functools

from jinja2 import Environment, PackageLoader, StrictUndefined

from graders import i18n
from graders.grading.deadlines import parse_datetime
from graders.grading.messages import N_
from graders.hub import feedback
from graders.states import SubmissionState

STATES = {SubmissionState.QUEUED: N_("queued"), SubmissionState.GRADING: N_("grading"),
          SubmissionState.GRADED: N_("graded"), SubmissionState.FAILED: N_("failed")}
NOT_SUBMITTED = N_("not submitted yet")
# What the student's Jupyter writes around the submissions it lists (api/grades), by key.
LABELS = {"title": N_("Grades"), "homework": N_("homework"), "submitted": N_("submitted"),
          "state": N_("status"), "score": N_("score"), "details": N_("details"), "feedback": N_("feedback")}


@functools.cache
def environment(lang: str) -> Environment:
    """The templates, escaped, with `lang`'s catalog (`_`, `ngettext`, `{% trans %}`) and number format."""
    env = Environment(loader=PackageLoader("graders.hub", "templates"), autoescape=True, undefined=StrictUndefined,
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)
    env.filters["points"] = functools.partial(i18n.points, lang=lang)
    env.globals.update(lang=lang, attention=feedback.attention)
    return env


def render(template: str, lang: str, **context: object) -> str:
    """The page `template` (a file of graders/hub/templates) in `lang`, with `context`."""
    return environment(i18n.supported(lang)).get_template(template).render(**context)


def feedback_page(hw: str, notebooks: list[dict], status: dict, lang: str) -> str:
    """The feedback page of a submission of `hw` (what the service serves, and the file the Assignments tab
    fetches): `notebooks` from graders.hub.feedback.build, `status` a SubmissionStatus.as_dict."""
    return render("feedback.html", lang, hw=hw, view=submission_view(status, lang), notebooks=notebooks)


def submission_view(status: dict | None, lang: str, policy: dict | None = None) -> dict:
    """What to show of a submission (SubmissionStatus.as_dict; None: none yet) and of its homework's
    submission `policy` (when the service has one), in `lang`; JSON-ready.

    {"state": "graded" | ... | None, "state_text", "score_text" ("42.75 / 100", "" until graded),
     "submitted" (when, in words), "details": [sentences: why it failed, late penalty, TA, policy]}
    """
    _ = i18n.translations(lang).gettext
    view = {"state": None, "state_text": _(NOT_SUBMITTED), "score_text": "", "submitted": "",
            "details": []}
    if status is not None:
        state = SubmissionState(status["state"])
        view.update(state=str(state), state_text=_(STATES[state]),
                    submitted=i18n.when(parse_datetime(status["timestamp"]), lang))
        if status.get("score") is not None:
            view["score_text"] = f"{i18n.points(status['score'], lang)} / {i18n.points(status['max_score'], lang)}"
        if state == SubmissionState.FAILED and status.get("reason"):
            view["details"].append(_("why: %(reason)s") % {"reason": status["reason"]})
        if status.get("late_penalty"):
            points = i18n.points(-status["late_penalty"], lang)
            view["details"].append(_("late penalty: %(points)s points") % {"points": points})
        if status.get("needs_manual"):
            view["details"].append(_("some answers are still to be graded by your TA"))
    view["details"] += _policy_details(policy or {}, lang)
    return view


def _policy_details(policy: dict, lang: str) -> list[str]:
    """A homework's submission policy (graders.grading.policy.Standing.as_dict, branch `lang`) as sentences: how
    many submissions remain, when the next one may go, until when, why one would be refused now, which counts."""
    translations = i18n.translations(lang)
    said = []
    if policy.get("remaining") is not None:
        said.append(translations.ngettext("%(count)d submission left", "%(count)d submissions left",
                                          int(policy["remaining"])) % {"count": int(policy["remaining"])})
    if policy.get("next_allowed_at"):
        said.append(translations.gettext("next submission from %(when)s")
                    % {"when": i18n.when(parse_datetime(policy["next_allowed_at"]), lang)})
    if policy.get("closes_at"):
        said.append(translations.gettext("submissions close %(when)s")
                    % {"when": i18n.when(parse_datetime(policy["closes_at"]), lang)})
    if policy.get("refusal"):  # why a submission now would be refused, as the policy says it
        said.append(str(policy["refusal"]))
    if policy.get("counts") in ("best", "last"):
        said.append(translations.gettext("your best submission counts") if policy["counts"] == "best"
                    else translations.gettext("your last submission counts"))
    return said
