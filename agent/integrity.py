"""Tamper evidence: the agent's own code, its config file and its policy cache against a recorded baseline.

The baseline (integrity.json in the state folder) is written by the agent only: at start, whenever it stores
a pushed policy, and after each periodic check. A difference found at start or while running becomes an
`agent.tamper` event (what: "binary", "config", "policy_cache"). A deleted or replaced spool is reported by
the spool itself (`spool.corrupt`) and is not repeated here.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import StateDir
from agent.fsutil import write_atomic

log = logging.getLogger("mamori.agent.integrity")

# The code that makes up the agent: what an attacker would replace to neuter it.
_SUFFIXES = {".py", ".mo", ".toml", ".json"}
_VERSION = re.compile(r'^__version__\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)


@dataclass(frozen=True)
class Finding:
    what: str  # binary | config | policy_cache
    detail: str
    severity: str = "high"


def package_dirs() -> list[Path]:
    """The agent's code: its package folders, or the executable itself when frozen (PyInstaller embeds the
    modules in it)."""
    import sys

    if getattr(sys, "frozen", False):
        return [Path(sys.executable)]
    import agent
    import mamori

    return [Path(agent.__file__).parent, Path(mamori.__file__).parent]


def code_fingerprint(dirs: Iterable[Path]) -> str:
    """sha256 over every code file's relative path and content (bytecode caches excluded)."""
    digest = hashlib.sha256()
    for root in dirs:
        if root.is_file():
            files = [root]
            root = root.parent
        else:
            files = sorted(p for p in root.rglob("*") if p.suffix in _SUFFIXES and "__pycache__" not in p.parts)
        for path in files:
            digest.update(f"{root.name}/{path.relative_to(root).as_posix()}\0".encode())
            try:
                digest.update(hashlib.sha256(path.read_bytes()).digest())
            except OSError as exc:
                digest.update(f"unreadable:{exc.errno}".encode())
    return digest.hexdigest()


def installed_version(dirs: Iterable[Path]) -> str:
    """The version of the code on disk now (which differs from the running one during an upgrade)."""
    for root in dirs:
        init = root / "__init__.py"
        if root.name == "mamori" and init.exists():
            found = _VERSION.search(init.read_text(encoding="utf-8", errors="replace"))
            if found:
                return found.group(1)
    return ""


def file_sha256(path: Path | None) -> str:
    """Hex digest of a file, "missing" when it does not exist."""
    if path is None:
        return ""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable:{exc.errno}"


class Integrity:
    """Compares the current code, config and policy cache with the recorded baseline."""

    def __init__(self, state: StateDir, config_path: Path | None, version: str, dirs: list[Path] | None = None):
        self.state = state
        self.config_path = config_path if config_path is not None else state.config
        self.version = version
        self.dirs = dirs if dirs is not None else package_dirs()
        self.record: dict[str, Any] = {}

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state.integrity.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("integrity baseline %s unreadable: %s", self.state.integrity, exc)
            return {"unreadable": str(exc)}

    def _save(self) -> None:
        try:
            write_atomic(self.state.integrity, json.dumps(self.record, indent=1).encode(), 0o600)
        except OSError as exc:  # a full disk: the baseline stays in memory and is written next time
            log.warning("cannot save integrity baseline %s: %s", self.state.integrity, exc)

    def policy_stored(self, sha256: str) -> None:
        """The agent itself just wrote the policy cache: that content is the new baseline."""
        self.record["policy"] = sha256
        self.record.pop("policy_distrusted", None)
        self._save()

    @property
    def policy_distrusted(self) -> bool:
        """The cache on disk was edited outside the agent and no policy from the collector has replaced it."""
        return bool(self.record.get("policy_distrusted"))

    def at_start(self) -> list[Finding]:
        """Compare with the baseline the previous run left, then record the present as the new baseline."""
        before = self._load()
        findings: list[Finding] = []
        code = code_fingerprint(self.dirs)
        config = file_sha256(self.config_path)
        policy = file_sha256(self.state.policy)
        if "unreadable" in before:
            findings.append(
                Finding("integrity", f"baseline {self.state.integrity.name} unreadable: {before['unreadable']}")
            )
        elif before:
            old_code = before.get("code", {})
            if old_code.get("version") == self.version and old_code.get("sha256") != code:
                findings.append(
                    Finding(
                        "binary", f"agent code changed without a version change ({self.version}); sha256 {code[:16]}"
                    )
                )
            if (
                before.get("config", {}).get("path") == str(self.config_path)
                and before["config"].get("sha256") != config
            ):
                # Staff may edit the config legitimately (and restart to apply): still evidence, less severe.
                findings.append(
                    Finding(
                        "config",
                        f"{self.config_path} changed since the last start "
                        f"({before['config'].get('sha256', '')[:12]} -> {config[:12]})",
                        "medium",
                    )
                )
            if "policy" in before and before["policy"] != policy and policy != "missing":
                findings.append(Finding("policy_cache", f"{self.state.policy.name} was edited outside the agent"))
        elif policy != "missing":
            # A cached policy without any baseline: state folder copied in or baseline deleted.
            findings.append(Finding("policy_cache", f"{self.state.policy.name} present but no integrity baseline"))
        self.record = {
            "code": {"version": self.version, "sha256": code},
            "config": {"path": str(self.config_path), "sha256": config},
        }
        if policy != "missing":  # reported above if it was edited; the caller then no longer trusts it
            self.record["policy"] = policy
            # Reported once, distrusted until the collector stores a policy: else the next start trusts the edit.
            still = before.get("policy_distrusted") and before.get("policy") == policy
            if still or any(f.what == "policy_cache" for f in findings):
                self.record["policy_distrusted"] = True
        self._save()
        return findings

    def periodic(self) -> list[Finding]:
        """Changes since the baseline while running; each is reported once (the baseline moves on)."""
        findings: list[Finding] = []
        code = code_fingerprint(self.dirs)
        if code != self.record.get("code", {}).get("sha256"):
            on_disk = installed_version(self.dirs)
            if on_disk and on_disk != self.version:
                log.info("agent code on disk is now version %s (upgrade in progress)", on_disk)
            else:
                findings.append(Finding("binary", f"agent code changed on disk while running (version {self.version})"))
            self.record["code"] = {"version": on_disk or self.version, "sha256": code}
        config = file_sha256(self.config_path)
        if config != self.record.get("config", {}).get("sha256"):
            findings.append(
                Finding(
                    "config", f"{self.config_path} changed while the agent runs (not applied until restart)", "medium"
                )
            )
            self.record["config"] = {"path": str(self.config_path), "sha256": config}
        policy = file_sha256(self.state.policy)
        if "policy" in self.record and policy != self.record["policy"]:
            how = "deleted" if policy == "missing" else "edited"
            findings.append(Finding("policy_cache", f"{self.state.policy.name} was {how} outside the agent"))
            self.record["policy"], self.record["policy_distrusted"] = policy, True
        elif "policy" not in self.record and policy != "missing":
            findings.append(Finding("policy_cache", f"{self.state.policy.name} appeared outside the agent"))
            self.record["policy"], self.record["policy_distrusted"] = policy, True
        if findings or code != self.record.get("code", {}).get("sha256"):
            self._save()
        return findings
