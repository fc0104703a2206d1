"""The message catalog: every sentence the hub shows has its French, said with its values and numbers."""

from __future__ import annotations

from datetime import datetime

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from graders import i18n
from graders.grading.messages import Message, restored, saved, translate
from graders.hub import pages
from tests.conftest import REPO

KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "Message": None}


def used_messages() -> set[str]:
    """Every msgid the code and the templates mark, as `make messages` extracts them."""
    method_map = [("graders/**.py", "python"), ("graders/hub/templates/**.html", "jinja2")]
    options = {"graders/hub/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}}
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(REPO), method_map, options, keywords=KEYWORDS):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_message_the_hub_shows_has_a_french_translation():
    with i18n.catalog_path("fr").open("rb") as source:
        french = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in read_po(source, locale="fr") if m.id}
    used = used_messages()
    assert {"wrong shape: got {got}, expected {expected}", "Feedback: %(hw)s", "grading"} <= used
    untranslated = sorted(m for m in used if not french.get(m) or (isinstance(french[m], tuple) and not all(french[m])))
    assert untranslated == []


def test_a_message_is_said_in_french_with_its_values_nested_ones_too():
    frame = Message("cell `{cell}`, line {line}", cell="mlp", line=12)
    raised = Message("your code raised {error} in {where}", error="TypeError", where=[frame])
    missing = Message("not produced: {error}", error=raised)
    assert missing == "not produced: your code raised TypeError in cell `mlp`, line 12"  # a str: English
    french = i18n.translations("fr").gettext
    assert translate(missing, french) == "non produit : votre code a levé TypeError dans la cellule `mlp`, ligne 12"
    kept = restored(str(missing), saved(missing))  # as the autograded notebook's metadata keeps it
    assert translate(kept, french) == translate(missing, french)
    assert translate("passed", french) == "réussi" and translate("", french) == ""  # plain msgid; no header
    assert translate("text the grader never wrote", french) == "text the grader never wrote"


def test_points_dates_and_plurals_are_written_the_languages_way():
    assert [i18n.points(v, "en") for v in (10 / 9, 7.5, 10.0, 1234.5)] == ["1.11", "7.5", "10", "1,234.5"]
    assert i18n.points(10 / 9, "fr") == "1,11"
    assert i18n.when(datetime(2026, 11, 20, 10, 5), "fr") == "20 nov. 2026 10:05 UTC"
    view = pages.submission_view({"state": "graded", "timestamp": "2026-11-20 10:05:00.000000 UTC", "score": 42.75,
                                  "max_score": 100.0, "late_penalty": 4.75, "needs_manual": False}, "fr",
                                 {"remaining": 1, "counts": "best", "closes_at": "2026-12-01T12:00:00+00:00"})
    assert (view["state_text"], view["score_text"]) == ("corrigé", "42,75 / 100")
    assert view["details"] == ["pénalité de retard : -4,75 points", "1 rendu restant",
                               "rendus fermés le 1 déc. 2026 12:00 UTC", "votre meilleur rendu compte"]
    assert pages.submission_view(None, "en", {"remaining": 0, "refusal": "no submission left (3 allowed)"})[
        "details"] == ["0 submissions left", "no submission left (3 allowed)"]
