"""The message catalog: what the hub shows a student (pages, labels, feedback sentences) in English or French.

Messages are gettext msgids in English, marked in the code (`N_`, `Message`, `gettext`) and in the
Jinja2 templates (`{% trans %}`, `_()`); their translations are Babel catalogs kept as text,
graders/locale/<lang>/LC_MESSAGES/graders.po, compiled in memory when first used (no build step,
nothing binary in the repository). After changing a message: `make messages` extracts them again and
updates each .po (pybabel, see the Makefile); tests/unit/test_i18n.py fails while one lacks a translation.
Numbers and dates are written the language's way by Babel (42,75 in French).
"""

from __future__ import annotations

import functools
import gettext as gettext_module
from datetime import datetime, timezone
from io import BytesIO
from pathlib import Path

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

LANGUAGES = ("en", "fr")  # English is the msgids' own language
DOMAIN = "graders"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
POINTS_DECIMALS = 2  # points are shown to people rounded to this many decimals


def supported(lang: str | None) -> str:
    """`lang` if the catalog has it, else English."""
    return lang if lang in LANGUAGES else "en"


@functools.cache
def translations(lang: str) -> gettext_module.NullTranslations:
    """The catalog of `lang` (English, or any language without a catalog: the msgids themselves)."""
    po = catalog_path(supported(lang))
    if not po.is_file():
        return gettext_module.NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=lang, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def gettext(lang: str, message: str) -> str:
    return translations(lang).gettext(message)


def points(value: float | None, lang: str) -> str:
    """Points as people read them: at most 2 decimals, the language's decimal sign (7.5, 7,5; 1.11 for 10/9)."""
    if value is None:
        return ""
    return format_decimal(round(float(value), POINTS_DECIMALS), "#,##0.##", locale=supported(lang))


def when(value: datetime, lang: str) -> str:
    """A moment (naive UTC, or aware) in the language's way, to the minute, in UTC: 20 nov. 2026 10:05 UTC."""
    utc = value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
    return f"{format_datetime(utc, 'd MMM y HH:mm', tzinfo=timezone.utc, locale=supported(lang))} UTC"
