"""The update state on Linux as PatchFacts: apt (Debian family), else dnf (RHEL family)."""

from __future__ import annotations

from pathlib import Path

from agent.host.facts import PatchFacts, PendingUpdate, UpdateSource
from agent.host.linux import apt, dnf
from agent.host.sysio import HostIOError


def _apt(root: Path) -> PatchFacts:
    try:
        st = apt.state(root)
    except HostIOError as exc:
        return PatchFacts(backend="apt", error=str(exc))
    return PatchFacts(
        backend="apt",
        root=str(root),
        security=tuple(
            PendingUpdate(p.package, p.installed, p.candidate, p.origins, published=apt.published_by(p, st.sources))
            for p in st.pending
            if p.security
        ),
        pending_total=len(st.pending),
        sources=tuple(UpdateSource(s.file, s.origin, s.suite, s.date, s.fetched, s.security) for s in st.sources),
        refreshed=st.last_update,
        last_upgrade=st.last_upgrade,
        last_upgrade_packages=st.last_upgrade_packages,
        reboot_required=st.reboot_required_since is not None,
        reboot_required_since=st.reboot_required_since,
        reboot_packages=tuple(st.reboot_packages),
        problems=tuple(st.problems),
    )


def _dnf(root: Path) -> PatchFacts:
    try:
        st = dnf.state(root)
    except HostIOError as exc:
        return PatchFacts(backend="dnf", error=str(exc))
    return PatchFacts(
        backend="dnf",
        root=str(root),
        security=tuple(
            PendingUpdate(a.id, title=a.title, severity=a.severity, published=a.issued) for a in st.advisories
        ),
        refreshed=st.metadata_at,
        reboot_required=st.reboot_required,
        problems=tuple(st.problems),
    )


def read(root: Path) -> PatchFacts:
    if apt.is_apt_system(root):
        return _apt(root)
    if dnf.is_dnf_system(root):
        return _dnf(root)
    return PatchFacts(root=str(root))
