"""Fixtures for posture checks: real Debian packages extracted into throwaway roots, check contexts."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from agent.checks.base import Context
from mamori import i18n, policy

CACHE = Path(os.environ.get("MAMORI_TEST_CACHE", Path.home() / ".cache" / "mamori-tests")) / "debs"
PAM_PACKAGES = ("libpam-runtime", "libpam-modules", "login", "openssh-server", "libpam-u2f",
                "libpam-google-authenticator", "libpam-oath", "libpam-sss", "libpam-pkcs11")


def debs(packages: tuple[str, ...]) -> list[Path]:
    """The distribution's own .deb files, downloaded once with `apt-get download` into a cache folder."""
    CACHE.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(CACHE.glob(f"{p}_*.deb"))]
    if missing:
        proc = subprocess.run(["apt-get", "download", *missing], cwd=CACHE, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, f"apt-get download {missing} failed: {proc.stderr}"
    return [sorted(CACHE.glob(f"{p}_*.deb"))[-1] for p in packages]


@pytest.fixture(scope="session")
def pam_tree(tmp_path_factory) -> Path:
    """libpam-runtime, login, openssh-server and the second-factor PAM modules, extracted as shipped."""
    root = tmp_path_factory.mktemp("pamdebs")
    for deb in debs(PAM_PACKAGES):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=120)
    return root


@pytest.fixture
def pam_root(pam_tree, tmp_path) -> Path:
    """A writable root: /etc copied from the packages, module directories linked to the shared extraction."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copytree(pam_tree / "etc", root / "etc", symlinks=True)
    for top in ("lib", "usr"):
        if (pam_tree / top).exists():
            (root / top).symlink_to(pam_tree / top)
    # What the packages' postinst scripts do on a real install: generate common-auth, install sshd_config.
    pam_auth_update(root, ["unix"])
    shutil.copy(pam_tree / "usr/share/openssh/sshd_config", root / "etc/ssh/sshd_config")
    return root


@pytest.fixture(autouse=True)
def english():
    i18n.setup("en")
    yield
    i18n.setup("en")


def make_ctx(segment: str = "mynumber", root: Path = Path("/"), **overrides) -> Context:
    settings = policy.DEFAULTS[segment]["checks"] | overrides
    return Context(settings=settings, root=root, segment=segment)


def pam_auth_update(root: Path, profiles: list[str]) -> str:
    """Write /etc/pam.d/common-auth the way Debian's pam-auth-update does, from the shipped profiles.

    Primary `Auth:` lines are ordered by profile priority and their `success=end` becomes a jump over
    the remaining primary lines, into the shipped template /usr/share/pam/common-auth.
    """
    primary: list[tuple[int, str]] = []
    additional: list[tuple[int, str]] = []
    for name in profiles:
        text = (root / "usr/share/pam-configs" / name).read_text()
        fields: dict[str, list[str]] = {}
        key = ""
        for line in text.splitlines():
            if line and not line[0].isspace() and ":" in line:
                key, _, value = line.partition(":")
                fields[key] = [value.strip()] if value.strip() else []
            elif line.strip():
                fields.setdefault(key, []).append(line.strip())
        prio = int(fields["Priority"][0])
        target = primary if fields.get("Auth-Type", [""])[0] == "Primary" else additional
        target.extend((prio, line) for line in fields.get("Auth", []))
    primary.sort(key=lambda x: -x[0])
    rendered = []
    for i, (_prio, line) in enumerate(primary):
        rendered.append("auth\t" + line.replace("success=end", f"success={len(primary) - i}"))
    template = (root / "usr/share/pam/common-auth").read_text()
    out = template.replace("$auth_primary", "\n".join(rendered)).replace(
        "$auth_additional", "\n".join("auth\t" + line for _p, line in additional))
    (root / "etc/pam.d/common-auth").write_text(out)
    return out
