"""Linux-PAM stack evaluator: which factors must succeed on every way a service's `auth` stack can pass.

The configuration is expanded exactly as libpam does (include/@include inline, substack as a unit,
`-type` lines, `[value=action]` controls, jumps over the flattened list), then every outcome of every
module is explored with memoisation, so a `sufficient` second factor placed before the password, or a
`nouserok`/`nullok` escape hatch, shows up as a way in that needs only one factor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from agent.host.facts import StackReport, Way
from agent.host.sysio import HostIOError, read_text

__all__ = ["PamConfig", "StackReport", "Way"]  # the report types live with the other facts

KNOWLEDGE, POSSESSION, INHERENCE = "knowledge", "possession", "inherence"
MAX_DEPTH = 16
MAX_ENTRIES = 2000
MAX_STATES = 200_000

# What a successful module proves. Unknown modules prove nothing but may pass or fail.
FACTORS: dict[str, frozenset[str]] = {
    "pam_unix": frozenset({KNOWLEDGE}),
    "pam_unix2": frozenset({KNOWLEDGE}),
    "pam_ldap": frozenset({KNOWLEDGE}),
    "pam_krb5": frozenset({KNOWLEDGE}),
    "pam_winbind": frozenset({KNOWLEDGE}),
    "pam_sss": frozenset({KNOWLEDGE}),
    "pam_userdb": frozenset({KNOWLEDGE}),
    "pam_pwdfile": frozenset({KNOWLEDGE}),
    "pam_u2f": frozenset({POSSESSION}),
    "pam_oath": frozenset({POSSESSION}),
    "pam_google_authenticator": frozenset({POSSESSION}),
    "pam_yubico": frozenset({POSSESSION}),
    "pam_duo": frozenset({POSSESSION}),
    "pam_ssh_agent_auth": frozenset({POSSESSION}),
    # A smart card needs the card and its PIN.
    "pam_pkcs11": frozenset({POSSESSION, KNOWLEDGE}),
    "pam_p11": frozenset({POSSESSION, KNOWLEDGE}),
    "pam_fprintd": frozenset({INHERENCE}),
}
# Options that let a user without an enrolled token through with PAM_SUCCESS.
ESCAPES = {"pam_u2f": ("nouserok",), "pam_google_authenticator": ("nullok",), "pam_yubico": ("nouserok",)}
SIMPLE = {
    "required": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "bad"},
    "requisite": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "die"},
    "sufficient": {"success": "done", "new_authtok_reqd": "done", "default": "ignore"},
    "optional": {"success": "ok", "new_authtok_reqd": "ok", "default": "ignore"},
}
ACTIONS = {"ignore", "bad", "die", "ok", "done", "reset"}
TYPES = ("auth", "account", "password", "session")


@dataclass
class Entry:
    """One module line of the flattened stack (or a substack holding its own flattened entries)."""

    control: dict[str, str]
    module: str
    args: list[str]
    where: str
    substack: list[Entry] | None = None
    missing: bool = False

    @property
    def name(self) -> str:
        base = self.module.rsplit("/", 1)[-1]
        return base[:-3] if base.endswith(".so") else base

    def factors(self) -> frozenset[str]:
        f = FACTORS.get(self.name, frozenset())
        if self.name == "pam_sss" and "require_cert_auth" in self.args:
            return frozenset({POSSESSION, KNOWLEDGE})
        return f


class PamConfig:
    """Reads /etc/pam.d under a root directory."""

    def __init__(self, root: Path = Path("/")):
        self.root = root
        self.pamd = root / "etc/pam.d"
        dirs = (
            "lib/x86_64-linux-gnu/security",
            "usr/lib/x86_64-linux-gnu/security",
            "lib64/security",
            "usr/lib64/security",
            "lib/security",
            "usr/lib/security",
            "lib/aarch64-linux-gnu/security",
            "usr/lib/aarch64-linux-gnu/security",
        )
        self.module_dirs = [root / d for d in dirs if (root / d).is_dir()]

    def exists(self, service: str) -> bool:
        return (self.pamd / service).is_file()

    def _path(self, name: str) -> Path:
        return self.root / name.lstrip("/") if name.startswith("/") else self.pamd / name

    def _module_missing(self, module: str) -> bool:
        if not self.module_dirs:
            return False  # cannot tell (e.g. a tree with configuration only)
        if module.startswith("/"):
            return not (self.root / module.lstrip("/")).is_file()
        return not any((d / module).is_file() for d in self.module_dirs)

    def evaluate(self, service: str, ptype: str = "auth") -> StackReport:
        report = StackReport(service)
        name = service if self.exists(service) else "other"
        if name != service:
            report.problems.append(f"{self.pamd / service} missing: libpam uses 'other'")
        entries = self._expand(name, ptype, report, (), 0)
        report.entries = _count(entries)
        report.ways = _explore(entries, report)
        return report

    def include_loops(self, service: str) -> list[str]:
        """Include cycles libpam follows when pam_start loads the service: every type, not only auth.

        libpam recurses on `include` without a limit (and aborts substacks at 16 levels), so a cycle in
        any type's lines makes every use of the service fail or crash: none of its stacks can be judged.
        """
        report = StackReport(service)
        found: list[str] = []
        start = service if self.exists(service) else "other"
        todo: list[tuple[str, str | None, tuple[str, ...]]] = [(start, None, ())]  # None: every type
        done: set[tuple[str, str | None]] = set()
        while todo and len(done) <= MAX_ENTRIES:
            name, ptype, chain = todo.pop()
            path = str(self._path(name))
            if path in chain:
                found.append(f"include loop: {' -> '.join([*chain, path])}")
                continue
            if (path, ptype) in done:
                continue
            done.add((path, ptype))
            for _no, line in self._lines(Path(path), report):
                words = line.split()
                if words[0] == "@include" and len(words) > 1:
                    todo.append((words[1], ptype, (*chain, path)))
                elif len(words) > 2 and words[1] in ("include", "substack"):
                    typ = words[0].lstrip("-")
                    if ptype in (None, typ):
                        todo.append((words[2], typ, (*chain, path)))
        return sorted(set(found))

    def _lines(self, path: Path, report: StackReport) -> list[tuple[int, str]]:
        try:
            text = read_text(path)
        except HostIOError as exc:
            report.problems.append(str(exc))
            return []
        if str(path) not in report.files:
            report.files.append(str(path))
        if text.binary:
            report.problems.append(f"{path}: binary data, ignored")
            return []
        if text.truncated:
            report.problems.append(f"{path}: larger than the read limit; only the start was used")
        out, buf, start = [], "", 0
        for no, raw in enumerate(text.text.splitlines(), 1):
            line = raw.split("#", 1)[0] if not buf else raw
            if not buf:
                start = no
            if line.rstrip().endswith("\\"):
                buf += line.rstrip()[:-1] + " "
                continue
            line = (buf + line).split("#", 1)[0].strip()
            buf = ""
            if line:
                out.append((start, line))
        return out

    def _expand(self, name: str, ptype: str, report: StackReport, chain: tuple[str, ...], depth: int) -> list[Entry]:
        path = self._path(name)
        if str(path) in chain:
            report.problems.append(f"include loop: {' -> '.join([*chain, str(path)])}")
            return [Entry(dict(SIMPLE["required"]), "pam_deny.so", [], f"{path}: loop")]
        if depth > MAX_DEPTH:
            report.problems.append(f"includes nested deeper than {MAX_DEPTH} at {path}")
            return [Entry(dict(SIMPLE["required"]), "pam_deny.so", [], f"{path}: too deep")]
        chain = (*chain, str(path))
        out: list[Entry] = []
        for no, line in self._lines(path, report):
            where = f"{path}:{no}"
            if _count(out) > MAX_ENTRIES:
                report.problems.append(f"more than {MAX_ENTRIES} modules; the rest of {path} was ignored")
                break
            if line.startswith("@include"):
                target = line.split(None, 1)[1].strip() if len(line.split()) > 1 else ""
                out.extend(self._expand(target, ptype, report, chain, depth + 1) if target else [])
                continue
            m = re.match(r"^(-?)(\w+)\s+(\[[^\]]*\]|\S+)\s*(.*)$", line)
            if not m:
                report.problems.append(f"{where}: cannot parse the line (content not copied into evidence)")
                continue
            _silent, typ, control, rest = m.groups()
            if typ not in TYPES:
                report.problems.append(f"{where}: unknown type {typ!r}")
                continue
            if typ != ptype:
                continue
            words = rest.split()
            if control in ("include", "substack"):
                if not words:
                    report.problems.append(f"{where}: {control} without a file")
                    continue
                sub = self._expand(words[0], ptype, report, chain, depth + 1)
                if control == "include":
                    out.extend(sub)
                else:
                    out.append(Entry(dict(SIMPLE["required"]), f"substack:{words[0]}", [], where, substack=sub))
                continue
            actions = _control(control, where, report)
            if not words:
                report.problems.append(f"{where}: no module")
                continue
            entry = Entry(actions, words[0], words[1:], where)
            entry.missing = self._module_missing(words[0])
            if entry.missing:
                report.problems.append(f"{where}: module {words[0]} is not installed")
            out.append(entry)
        return out


def _count(entries: list[Entry]) -> int:
    return sum(_count(e.substack) if e.substack is not None else 1 for e in entries)


def _control(text: str, where: str, report: StackReport) -> dict[str, str]:
    if text in SIMPLE:
        return dict(SIMPLE[text])
    if not (text.startswith("[") and text.endswith("]")):
        report.problems.append(f"{where}: unknown control {text!r}, treated as a failure")
        return {"default": "bad"}
    actions: dict[str, str] = {}
    for pair in text[1:-1].split():
        key, sep, value = pair.partition("=")
        value = value.lower()
        if not sep or not (value in ACTIONS or value.isdigit()):
            report.problems.append(f"{where}: bad action {pair!r}, treated as a failure")
            value = "bad"
        actions[key.lower()] = value
    return actions


def _outcomes(entry: Entry) -> list[tuple[str, frozenset[str]]]:
    """(return value, factors proven) pairs a module may produce at logon time."""
    if entry.missing:
        return [("module_unknown", frozenset())]
    name = entry.name
    if name == "pam_deny":
        return [("auth_err", frozenset())]
    if name == "pam_permit":
        return [("success", frozenset())]
    if name == "pam_rootok":  # a logon is not started by root
        return [("auth_err", frozenset())]
    factors = entry.factors()
    outs = [("success", factors), ("auth_err", frozenset())]
    if any(opt in entry.args for opt in ESCAPES.get(name, ())):
        outs.append(("success", frozenset()))  # a user with no token enrolled walks through
    if name == "pam_sss":
        outs += [("user_unknown", frozenset()), ("authinfo_unavail", frozenset())]
    elif not factors:
        outs.append(("ignore", frozenset()))
    return outs


def _explore(entries: list[Entry], report: StackReport) -> list[Way]:
    """All distinct (factor set, passing modules) ways the stack ends in PAM_SUCCESS."""
    ways: dict[frozenset[str], Way] = {}
    for ok, factors, mods in _run(entries, report):
        if ok and (factors not in ways or len(mods) < len(ways[factors].modules)):
            ways[factors] = Way(factors, mods)
    return list(ways.values())


def _run(
    entries: list[Entry],
    report: StackReport,
    memo: dict[int, list[tuple[bool, frozenset[str], tuple[str, ...]]]] | None = None,
) -> list[tuple[bool, frozenset[str], tuple[str, ...]]]:
    memo = {} if memo is None else memo
    if id(entries) in memo:  # a substack reached by many paths is evaluated once
        return memo[id(entries)]
    results: dict[tuple[bool, frozenset[str]], tuple[str, ...]] = {}
    seen: set[tuple[int, str, bool, frozenset[str]]] = set()
    # Stack of (index, impression, status ok, factors, passing modules); impression: undef|pos|neg.
    todo: list[tuple[int, str, bool, frozenset[str], tuple[str, ...]]] = [(0, "undef", False, frozenset(), ())]
    while todo:
        i, imp, st, fac, mods = todo.pop()
        key = (i, imp, st, fac)
        if key in seen:
            continue
        seen.add(key)
        if len(seen) > MAX_STATES:
            report.problems.append("stack too complex to evaluate fully")
            break
        if i >= len(entries):
            outcome = (imp == "pos" and st, fac)
            if outcome not in results or len(mods) < len(results[outcome]):
                results[outcome] = mods
            continue
        entry = entries[i]
        if entry.substack is not None:
            outs = [("success" if ok else "auth_err", f, m) for ok, f, m in _run(entry.substack, report, memo)]
        else:
            outs = [(rv, f, (f"{entry.name}@{entry.where}",) if rv == "success" else ()) for rv, f in _outcomes(entry)]
        for rv, got, passed in outs:
            action = entry.control.get(rv, entry.control.get("default", "bad"))
            nfac, nmods = (fac | got, mods + passed) if rv == "success" else (fac, mods)
            nimp, nst, nxt, stop = imp, st, i + 1, False
            if action in ("ok", "done"):
                if (imp == "undef" or (imp == "pos" and st)) and rv != "ignore":
                    nimp, nst = "pos", rv == "success"
                stop = action == "done" and nimp == "pos"
            elif action in ("bad", "die"):
                if imp != "neg":
                    nimp, nst = "neg", False
                stop = action == "die"
            elif action == "reset":
                nimp, nst = "undef", False
            elif action.isdigit():
                nxt = i + 1 + int(action)
            todo.append((len(entries) if stop else nxt, nimp, nst, nfac, nmods))
    memo[id(entries)] = [(ok, f, m) for (ok, f), m in results.items()]
    return memo[id(entries)]
