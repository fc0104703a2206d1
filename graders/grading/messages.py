"""Feedback sentences that can be said in the student's language.

A `Message` is the English sentence (it *is* a `str`, so reports, logs and the gradebook keep reading
plain text) that remembers its template and values. The template is the msgid of the message catalog
(graders/locale, read by graders.i18n), so feedback can say the same sentence in French:
`message.translated(gettext)`. The values are language-neutral (numbers and shapes already written,
type names, Python identifiers) or Messages themselves.
"""

from __future__ import annotations

from collections.abc import Callable

Value = str | int | float | list  # a list: of Messages or strings, said one after the other ("; ")
SEPARATOR = "; "


class Message(str):
    """`template.format(**values)` as a str, keeping `template` (a catalog msgid) and `values`."""

    template: str
    values: dict[str, Value]

    def __new__(cls, template: str, **values: Value) -> "Message":
        text = template.format(**{name: _said(value, str) for name, value in values.items()})
        message = super().__new__(cls, text)
        message.template, message.values = template, values
        return message

    def __reduce__(self) -> tuple:  # pickled (Dask) as itself, not as the plain str it also is
        return _rebuild, (self.template, self.values)

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The sentence in the language of `gettext` (a catalog's, e.g. graders.i18n.Catalog.gettext)."""
        return gettext(self.template).format(**{name: _said(value, gettext) for name, value in self.values.items()})

    def as_dict(self) -> dict:
        """JSON-ready: what `from_dict` reads back (kept in the autograded notebook's metadata)."""
        return {"template": self.template, "values": {name: _saved(value) for name, value in self.values.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "Message":
        """The Message that `as_dict` wrote; ValueError when `data` is not one."""
        try:
            return cls(str(data["template"]), **{name: _loaded(value) for name, value in data["values"].items()})
        except (KeyError, TypeError, AttributeError, IndexError) as exc:
            raise ValueError(f"not a saved message: {exc}") from None


def N_(template: str) -> str:  # noqa: N802 - gettext's name for "a msgid, translated later"
    """Marks a template that is stored and translated later (message extraction reads the mark)."""
    return template


def saved(text: str) -> dict | None:
    """What to keep beside `text` so that `restored` gives back its Message (None for a plain string)."""
    return text.as_dict() if isinstance(text, Message) else None


def restored(text: str, kept: object) -> str:
    """`text` as the Message that `saved` kept of it, or `text` itself (older notebooks, unreadable data)."""
    try:
        return Message.from_dict(kept) if isinstance(kept, dict) else text
    except ValueError:
        return text


def translate(text: str, gettext: Callable[[str], str]) -> str:
    """`text` in gettext's language: a Message by its template, a plain string if it is a msgid itself."""
    if isinstance(text, Message):
        return text.translated(gettext)
    return gettext(text) if text else text  # gettext("") is the catalog's header


def _said(value: Value, gettext: Callable[[str], str]) -> str:
    if isinstance(value, list):
        return SEPARATOR.join(_said(item, gettext) for item in value)
    if isinstance(value, Message):
        return value.translated(gettext)
    return str(value)


def _saved(value: Value) -> object:
    if isinstance(value, list):
        return [_saved(item) for item in value]
    return {"message": value.as_dict()} if isinstance(value, Message) else value


def _loaded(value: object) -> Value:
    if isinstance(value, list):
        return [_loaded(item) for item in value]
    if isinstance(value, dict):
        return Message.from_dict(value["message"])
    return value


def _rebuild(template: str, values: dict[str, Value]) -> Message:
    return Message(template, **values)
