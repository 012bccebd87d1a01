"""The agent's cached policy: what the collector last pushed, or the strictest mode when there is none."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.fsutil import write_atomic
from agent.usb.policy import compile_usb
from mamori import policy

log = logging.getLogger("mamori.agent.policy")


@dataclass(frozen=True)
class Effective:
    """The policy in force and where it came from: "collector", "cached" or "strictest"."""

    document: dict[str, Any]
    version: str
    source: str
    problem: str = ""


class PolicyCache:
    def __init__(self, path: Path, segment: str):
        self.path = path
        self.segment = segment
        self.current = self.load()
        self._listeners: list[Callable[[Effective], None]] = []
        # Called with the sha256 of the file bytes after the agent itself stored a policy (tamper baseline).
        self.on_store: Callable[[str], None] | None = None

    def add_listener(self, callback: Callable[[Effective], None]) -> None:
        """Called (on the applying thread) after each accepted update, e.g. to re-decide USB devices."""
        self._listeners.append(callback)

    def load(self) -> Effective:
        """Read the cache; a missing, unreadable or invalid one fails closed to the strictest policy."""
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
            document = policy.validate(policy.upgrade(stored["document"]))  # cached by an earlier release
            compile_usb(document)  # rules that do not parse make the cache unusable too
            version = str(stored["version"])
            if document["segment"] != self.segment:
                raise policy.PolicyError(f"policy is for segment {document['segment']}, not {self.segment}")
            return Effective(document, version, "cached")
        except FileNotFoundError:
            return Effective(policy.strictest(self.segment), "", "strictest", "no policy received yet")
        except (OSError, ValueError, KeyError, TypeError, policy.PolicyError) as exc:
            log.error("policy cache %s unusable, enforcing the strictest policy: %s", self.path, exc)
            return Effective(policy.strictest(self.segment), "", "strictest", f"cached policy unusable: {exc}")

    def apply(self, version: str, data: bytes) -> Effective:
        """Validate and store a pushed policy; on any problem raise PolicyError and keep the current one."""
        document = policy.parse(data)
        compile_usb(document)  # a bad USB rule or 一時許可 refuses the whole update
        if document["segment"] != self.segment:
            raise policy.PolicyError(f"policy is for segment {document['segment']}, not {self.segment}")
        record = {"version": version, "document": document}
        data = json.dumps(record, ensure_ascii=False, indent=1).encode("utf-8")
        write_atomic(self.path, data, 0o600)
        self.current = Effective(document, version, "collector")
        for callback in self._listeners:
            try:
                callback(self.current)
            except Exception:  # the policy is stored; a failing consumer must not make it look rejected
                log.exception("applying policy %s failed in %r", version, callback)
        if self.on_store is not None:
            self.on_store(hashlib.sha256(data).hexdigest())
        return self.current

    def distrust(self, problem: str) -> Effective:
        """The cache was edited behind the agent's back: fail closed until the collector sends a policy."""
        log.error("%s; enforcing the strictest policy", problem)
        self.current = Effective(policy.strictest(self.segment), "", "strictest", problem)
        return self.current

    @property
    def rejected(self) -> bool:
        """Whether a cache file exists yet is not what is enforced (unusable, or edited outside the agent)."""
        return self.current.source == "strictest" and self.path.exists()

    def enforced(self) -> dict[str, Any]:
        """What is in force, as the running agent writes it to status.json: the cache file alone may say otherwise."""
        eff = self.current
        return {
            "policy_version": eff.version,
            "policy_source": eff.source,
            "policy_problem": eff.problem,
            "policy_cache_rejected": self.rejected,
            "usb_mode": eff.document["usb"]["mode"],
        }

    def sha256(self) -> str:
        return hashlib.sha256(policy.canonical(self.current.document)).hexdigest()
