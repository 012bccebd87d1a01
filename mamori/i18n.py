"""Message translation via gettext: Japanese by default, English by --lang en or an English locale."""

from __future__ import annotations

import functools
import gettext
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DOMAIN = "mamori"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# None until setup(): a library caller that never ran setup() still gets the default language, Japanese.
_translation: gettext.NullTranslations | None = None
_lang = "ja"


def choose_language(explicit: str | None = None) -> str:
    """--lang wins, then MAMORI_LANG, then an English POSIX locale; staff default to Japanese."""
    if explicit:
        return "en" if explicit.lower().startswith("en") else "ja"
    for var in ("MAMORI_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value and value not in ("C", "POSIX", "C.UTF-8", "C.utf8"):
            return "en" if value.lower().startswith("en") else "ja"
    return "ja"


def setup(explicit: str | None = None) -> str:
    """Install the catalogue for the chosen language; returns 'ja' or 'en'."""
    global _translation, _lang
    _lang = choose_language(explicit)
    _translation = catalogue(_lang)
    return _lang


@functools.cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """The translations of one language: a report is written in its own --lang, whatever the process's."""
    if lang == "en":
        return gettext.NullTranslations()  # source strings are English
    return gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=False)


def current() -> gettext.NullTranslations:
    return _translation if _translation is not None else catalogue(_lang)


def language() -> str:
    return _lang


def _(message: str) -> str:
    return current().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return current().ngettext(singular, plural, n)


def lang_from_argv(argv: list[str]) -> str | None:
    """The --lang value, read before argparse runs: help texts are translated when the parser is built."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


@dataclass(frozen=True)
class Message:
    """Text decided now, read later in the reader's language: a gettext msgid with named placeholders."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str | None = None) -> str:
        return render(self.msgid, self.params, lang)

    def stored(self) -> dict[str, Any]:
        return {"msgid": self.msgid, "params": self.params}


def N_(msgid: str, **params: Any) -> Message:
    """Mark a message for translation at display time (rule details are stored, then shown in a report's --lang)."""
    return Message(msgid, params)


def render(msgid: str, params: dict[str, Any], lang: str | None = None) -> str:
    """The message in lang (None: the process's language); a translation that breaks its placeholders falls back
    to English, so a faulty catalogue never hides what was detected."""
    tr = catalogue(lang) if lang else current()
    try:
        return tr.gettext(msgid).format(**params)
    except (KeyError, IndexError, ValueError):
        return msgid.format(**params)


def render_stored(stored: Any, text: str, lang: str | None = None) -> str:
    """A stored message ({"msgid", "params"}) in lang; rows written before messages were stored keep their text."""
    if isinstance(stored, dict) and isinstance(stored.get("msgid"), str) and isinstance(stored.get("params"), dict):
        try:
            return render(stored["msgid"], stored["params"], lang)
        except (KeyError, IndexError, ValueError):
            return text
    return text
