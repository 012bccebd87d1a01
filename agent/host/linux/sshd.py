"""sshd_config reader: the authentication options in force globally and in each Match block."""

from __future__ import annotations

import glob
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from agent.host.sysio import HostIOError, read_text

KEYS = (
    "authenticationmethods",
    "passwordauthentication",
    "pubkeyauthentication",
    "kbdinteractiveauthentication",
    "usepam",
    "permitrootlogin",
)
ALIASES = {"challengeresponseauthentication": "kbdinteractiveauthentication"}
# OpenSSH's compiled-in defaults (distributions change them in the shipped file, which we read).
DEFAULTS = {
    "authenticationmethods": "any",
    "passwordauthentication": "yes",
    "pubkeyauthentication": "yes",
    "kbdinteractiveauthentication": "yes",
    "usepam": "no",
    "permitrootlogin": "prohibit-password",
}
MAX_FILES = 64


@dataclass
class SshdConfig:
    files: list[str] = field(default_factory=list)
    global_opts: dict[str, str] = field(default_factory=dict)
    matches: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def effective(self, match: dict[str, str] | None = None) -> dict[str, str]:
        out = dict(DEFAULTS)
        out.update(self.global_opts)
        out.update(match or {})
        return out


def load(root: Path) -> SshdConfig | None:
    """None when sshd is not configured under root (no sshd_config)."""
    main = root / "etc/ssh/sshd_config"
    if not main.exists():
        return None
    cfg = SshdConfig()
    state: dict[str, object] = {"current": None}
    _read(main, root, cfg, state, 0)
    return cfg


def _read(path: Path, root: Path, cfg: SshdConfig, state: dict[str, object], depth: int) -> None:
    if depth > 8 or len(cfg.files) >= MAX_FILES or str(path) in cfg.files:
        cfg.problems.append(f"{path}: include too deep or repeated, skipped")
        return
    try:
        text = read_text(path)
    except HostIOError as exc:
        cfg.problems.append(str(exc))
        return
    cfg.files.append(str(path))
    if text.binary:
        cfg.problems.append(f"{path}: binary data, ignored")
        return
    for no, raw in enumerate(text.text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = re.split(r"\s*=\s*|\s+", line, maxsplit=1)
        key = ALIASES.get(parts[0].lower(), parts[0].lower())
        value = parts[1].strip() if len(parts) > 1 else ""
        if key == "match":
            block: dict[str, str] = {}
            cfg.matches.append((value, block))
            state["current"] = None if value.lower() == "all" else block
            continue
        if key == "include":
            try:
                patterns = shlex.split(value)
            except ValueError:
                cfg.problems.append(f"{path}:{no}: bad Include")
                continue
            for pat in patterns:
                full = pat if pat.startswith("/") else f"/etc/ssh/{pat}"
                for found in sorted(glob.glob(str(root / full.lstrip("/"))))[:MAX_FILES]:
                    _read(Path(found), root, cfg, state, depth + 1)
            continue
        if key in KEYS:
            target = state["current"] if state["current"] is not None else cfg.global_opts
            assert isinstance(target, dict)
            target.setdefault(
                key,
                value.split("#", 1)[0].strip().lower()
                if key != "authenticationmethods"
                else value.split("#", 1)[0].strip(),
            )
