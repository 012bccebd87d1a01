"""Typed TOML configuration: one schema gives defaults, validation, line-numbered errors and a commented file."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A configuration file staff must fix; the message names file, line and key."""


@dataclass(frozen=True)
class Key:
    """One configuration key: dotted name, type, default, comment, optional validator."""

    name: str  # "section.key"
    type: type
    default: Any
    doc: str
    check: Callable[[Any], str | None] | None = None  # returns an error text or None


def positive(value: Any) -> str | None:
    return None if value > 0 else "must be greater than 0"


def one_of(*choices: str) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        return None if value in choices else f"must be one of {', '.join(choices)}"

    return check


def host_port(value: Any) -> str | None:
    host, sep, port = str(value).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return "must be HOST:PORT, e.g. 0.0.0.0:7443"
    return None


def _key_line(text: str, dotted: str) -> int | None:
    """Line number (1-based) where a dotted key is set, following [section] headers."""
    section, _, leaf = dotted.rpartition(".")
    current = ""
    pattern = re.compile(rf"^\s*{re.escape(leaf)}\s*=")
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[([^\[\]]+)\]\s*(#.*)?$", line)
        if header:
            current = header.group(1).strip()
            continue
        if current == section and pattern.match(line):
            return number
    return None


def _section_line(text: str, section: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[([^\[\]]+)\]", line)
        if header and header.group(1).strip() == section:
            return number
    return None


def read(path: Path) -> tuple[str, dict[str, Any]]:
    """(text, parsed TOML) of a file; ConfigError with file and line when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        return text, tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno attribute; the position is only in its text.
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        where = f"{path}:{found.group(1)}" if found else str(path)
        raise ConfigError(f"{where}: TOML syntax error: {exc}") from None


def problem(path: Path, text: str, dotted: str, reason: str) -> ConfigError:
    """An error naming the line where a dotted key (or section) is set, when it can be found."""
    line = _key_line(text, dotted) or _section_line(text, dotted)
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: key '{dotted}': {reason}")


def load(path: Path, schema: list[Key]) -> dict[str, Any]:
    """Read and validate path against schema; return {dotted key: value} with defaults filled in."""
    text, raw = read(path)
    by_name = {k.name: k for k in schema}
    values = {k.name: k.default for k in schema}
    sections = {k.name.rpartition(".")[0] for k in schema}

    def fail(dotted: str, reason: str) -> ConfigError:
        return problem(path, text, dotted, reason)

    for section, table in raw.items():
        if section not in sections or not isinstance(table, dict):
            line = _section_line(text, section) or _key_line(text, section)
            where = f"{path}:{line}" if line else str(path)
            raise ConfigError(f"{where}: key '{section}': unknown section (known: {', '.join(sorted(sections))})")
        for leaf, value in table.items():
            dotted = f"{section}.{leaf}"
            key = by_name.get(dotted)
            if key is None:
                raise fail(dotted, "unknown key")
            # TOML integers are acceptable where a float is expected; bool is not an int here.
            if key.type is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, key.type) or (key.type is int and isinstance(value, bool)):
                raise fail(dotted, f"expected {key.type.__name__}, got {type(value).__name__} {value!r}")
            if key.check is not None:
                complaint = key.check(value)
                if complaint:
                    raise fail(dotted, f"{complaint} (got {value!r})")
            values[dotted] = value
    return values


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


def render(schema: list[Key], values: dict[str, Any] | None = None, header: str = "") -> str:
    """A config file with every key, each preceded by its comment; values override defaults."""
    values = values or {}
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    current = None
    for key in schema:
        section, _, leaf = key.name.rpartition(".")
        if section != current:
            lines += ["", f"[{section}]"]
            current = section
        for doc_line in key.doc.splitlines():
            lines.append(f"# {doc_line}")
        value = values.get(key.name, key.default)
        lines.append(f"{leaf} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
