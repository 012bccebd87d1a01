"""The [forward] and [alerts] sections of collector.toml: keys, their checks (FILE:LINE) and typed settings."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mamori.labels import SEGMENTS, SEVERITIES
from mamori.tomlconf import ConfigError, Key, one_of, positive, problem

SCHEMES = ("tcp", "tls", "udp")
FACILITIES = {f"local{n}": 16 + n for n in range(8)}
_KIND = re.compile(r"^[a-z0-9_.*?\[\]-]+$")
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")


def _syslog_url(value: Any) -> str | None:
    if value == "":
        return None
    scheme, sep, rest = str(value).partition("://")
    host, colon, port = rest.rpartition(":")
    if (
        not sep
        or scheme not in SCHEMES
        or not colon
        or not host
        or "/" in rest
        or not port.isdigit()
        or not 0 < int(port) <= 65535
    ):
        return "must be tcp://HOST:PORT, tls://HOST:PORT or udp://HOST:PORT (empty: off)"
    return None


def _what(value: Any) -> str | None:
    for item in value:
        if item == "violations":
            continue
        if not isinstance(item, str) or not item.startswith("events:") or not _KIND.match(item[7:]):
            return 'each item must be "violations" or "events:KIND" (a pattern such as "events:usb.*")'
    return None


def _smtp(value: Any) -> str | None:
    if value == "":
        return None
    host, sep, port = str(value).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) <= 65535:
        return "must be HOST:PORT, e.g. 127.0.0.1:25 (empty: no mail)"
    return None


def _addresses(value: Any) -> str | None:
    bad = [a for a in value if not isinstance(a, str) or not _ADDRESS.match(a)]
    return f"not a mail address: {bad[0]!r}" if bad else None


SCHEMA = [
    Key(
        "forward.syslog",
        str,
        "",
        "Where violations (and chosen events) are forwarded as RFC 5424 syslog: tcp://HOST:PORT or tls://HOST:PORT\n"
        "(octet-counted frames, RFC 6587 / RFC 5425) or udp://HOST:PORT (one datagram each; may be lost). Empty: off.",
        _syslog_url,
    ),
    Key(
        "forward.format",
        str,
        "json",
        "The message body: json (one JSON object) or cef (ArcSight CEF).",
        one_of("json", "cef"),
    ),
    Key(
        "forward.what",
        list,
        ["violations"],
        'What is forwarded: "violations" (opened, escalated, acknowledged, resolved) and "events:KIND" patterns\n'
        'of stored agent events, e.g. ["violations", "events:usb.*"].',
        _what,
    ),
    Key(
        "forward.ca_file",
        str,
        "",
        "tls only: PEM file of the CA that signed the receiver's certificate. Empty: the system's CAs.",
    ),
    Key("forward.facility", str, "local0", "Syslog facility of the messages: local0 ... local7.", one_of(*FACILITIES)),
    Key("alerts.smtp", str, "", "Mail server for alerts to staff, HOST:PORT. Empty: no mail.", _smtp),
    Key("alerts.starttls", bool, False, "Upgrade the SMTP connection with STARTTLS before logging in."),
    Key("alerts.username", str, "", "SMTP login name (empty: no login)."),
    Key("alerts.password", str, "", "SMTP password; prefer alerts.password_file."),
    Key("alerts.password_file", str, "", "File holding the SMTP password (its first line)."),
    Key("alerts.from", str, "", "Sender address of alert mail.", lambda v: None if v == "" else _addresses([v])),
    Key("alerts.to", list, [], "Addresses that receive every alert.", _addresses),
    Key(
        "alerts.min_severity", str, "critical", "Violations at or above this severity are mailed.", one_of(*SEVERITIES)
    ),
    Key(
        "alerts.digest_over",
        int,
        5,
        "More new violations than this for one set of recipients in one send pass: one digest mail instead.",
        positive,
    ),
    Key("alerts.lang", str, "ja", "Language of alert mail: ja or en.", one_of("ja", "en")),
    Key(
        "alerts.segment",
        dict,
        {},
        "Extra recipients per segment, in addition to alerts.to. Replace this line with tables such as\n"
        '[alerts.segment.mynumber] to = ["joho-seisaku@example.lg.jp"]',
    ),
    Key(
        "alerts.department",
        dict,
        {},
        "Extra recipients per department (the name enrollment tokens carry), in addition to alerts.to. Replace this\n"
        'line with tables such as [alerts.department."NAME"] to = ["kanri@example.lg.jp"]',
    ),
]


@dataclass(frozen=True, slots=True)
class SyslogTarget:
    scheme: str  # tcp | tls | udp
    host: str
    port: int
    ca_file: str = ""

    @property
    def label(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ForwardSettings:
    syslog: SyslogTarget | None
    format: str
    violations: bool
    event_kinds: tuple[str, ...]  # fnmatch patterns
    facility: int

    def wants_event(self, kind: str) -> bool:
        return self.syslog is not None and any(fnmatch.fnmatchcase(kind, p) for p in self.event_kinds)


@dataclass(frozen=True, slots=True)
class AlertSettings:
    host: str
    port: int
    starttls: bool
    username: str
    password: str
    sender: str
    to: tuple[str, ...]
    min_severity: str
    digest_over: int
    lang: str
    by_segment: dict[str, tuple[str, ...]] = field(default_factory=dict)
    by_department: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def recipients(self, segment: str, department: str) -> tuple[str, ...]:
        extra = self.by_segment.get(segment, ()) + self.by_department.get(department, ())
        return tuple(dict.fromkeys(self.to + extra))


def _table_line(text: str, parts: list[str], leaf: str | None) -> int | None:
    """Line of a [a.b."c"] table header (or of `leaf =` inside it): the TOML loader keeps no positions."""
    wanted, inside = ".".join(parts), False
    for number, line in enumerate(text.splitlines(), start=1):
        header = re.match(r"^\s*\[([^\[\]]+)\]", line)
        if header:
            name = ".".join(p.strip().strip('"').strip("'") for p in header.group(1).split("."))
            inside = name == wanted
            if inside and leaf is None:
                return number
            continue
        if inside and leaf and re.match(rf"^\s*{re.escape(leaf)}\s*=", line):
            return number
    return None


def _nested_error(path: Path, text: str, parts: list[str], leaf: str | None, reason: str) -> ConfigError:
    line = _table_line(text, parts, leaf) or _table_line(text, parts[:1], parts[1])
    where = f"{path}:{line}" if line else str(path)
    return ConfigError(f"{where}: key '{'.'.join(parts + ([leaf] if leaf else []))}': {reason}")


def _recipient_tables(
    path: Path, text: str, name: str, tables: dict[str, Any], allowed: tuple[str, ...] | None
) -> None:
    for key, table in tables.items():
        parts = ["alerts", name, key]
        if allowed is not None and key not in allowed:
            raise _nested_error(path, text, parts, None, f"unknown segment (known: {', '.join(allowed)})")
        if not isinstance(table, dict) or set(table) != {"to"}:
            raise _nested_error(path, text, parts, None, 'must be a table with one key: to = ["address", ...]')
        if not isinstance(table["to"], list) or not table["to"]:
            raise _nested_error(path, text, parts, "to", "must list at least one address")
        if bad := _addresses(table["to"]):
            raise _nested_error(path, text, parts, "to", bad)


def check(path: Path, values: dict[str, Any]) -> None:
    """What single keys cannot say: keys that need each other, files that must exist. ConfigError with FILE:LINE."""
    text = path.read_text(encoding="utf-8")
    scheme = values["forward.syslog"].partition("://")[0]
    if values["forward.ca_file"]:
        if scheme != "tls":
            raise problem(path, text, "forward.ca_file", "only used with a tls:// syslog target")
        if not Path(values["forward.ca_file"]).is_file():
            raise problem(path, text, "forward.ca_file", f"no such file {values['forward.ca_file']}")
    _recipient_tables(path, text, "segment", values["alerts.segment"], SEGMENTS)
    _recipient_tables(path, text, "department", values["alerts.department"], None)
    if not values["alerts.smtp"]:
        return
    if not values["alerts.from"]:
        raise problem(path, text, "alerts.smtp", "alerts.from must be set when mail is on")
    if not (values["alerts.to"] or values["alerts.segment"] or values["alerts.department"]):
        raise problem(path, text, "alerts.smtp", "no recipients: set alerts.to or per-segment / per-department tables")
    if values["alerts.password"] and values["alerts.password_file"]:
        raise problem(path, text, "alerts.password_file", "set alerts.password or alerts.password_file, not both")
    if values["alerts.password_file"]:
        try:
            Path(values["alerts.password_file"]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc  # a decode error has none
            raise problem(path, text, "alerts.password_file", f"cannot read: {reason}") from None


def forward_settings(values: dict[str, Any]) -> ForwardSettings:
    target = None
    if values["forward.syslog"]:
        scheme, _sep, rest = values["forward.syslog"].partition("://")
        host, _colon, port = rest.rpartition(":")
        target = SyslogTarget(scheme, host.strip("[]"), int(port), values["forward.ca_file"])
    what = values["forward.what"]
    return ForwardSettings(
        syslog=target,
        format=values["forward.format"],
        violations="violations" in what,
        event_kinds=tuple(w[7:] for w in what if w.startswith("events:")),
        facility=FACILITIES[values["forward.facility"]],
    )


def alert_settings(values: dict[str, Any]) -> AlertSettings | None:
    if not values["alerts.smtp"]:
        return None
    host, _sep, port = values["alerts.smtp"].rpartition(":")
    password = values["alerts.password"]
    if values["alerts.password_file"]:
        lines = Path(values["alerts.password_file"]).read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    return AlertSettings(
        host=host.strip("[]"),
        port=int(port),
        starttls=values["alerts.starttls"],
        username=values["alerts.username"],
        password=password,
        sender=values["alerts.from"],
        to=tuple(values["alerts.to"]),
        min_severity=values["alerts.min_severity"],
        digest_over=values["alerts.digest_over"],
        lang=values["alerts.lang"],
        by_segment={k: tuple(t["to"]) for k, t in values["alerts.segment"].items()},
        by_department={k: tuple(t["to"]) for k, t in values["alerts.department"].items()},
    )
