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
PAM_PACKAGES = (
    "libpam-runtime",
    "libpam-modules",
    "login",
    "openssh-server",
    "libpam-u2f",
    "libpam-google-authenticator",
    "libpam-oath",
    "libpam-sss",
    "libpam-pkcs11",
)
DM_PACKAGES = ("lightdm", "gdm3")


def need_root(what: str) -> None:
    """dpkg --root, useradd --root and new network namespaces need root (CI runs the suite as root)."""
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root")


def debs(packages: tuple[str, ...]) -> list[Path]:
    """The distribution's own .deb files, downloaded once with `apt-get download` into a cache folder."""
    CACHE.mkdir(parents=True, exist_ok=True)
    missing = [p for p in packages if not list(CACHE.glob(f"{p}_*.deb"))]
    if missing:
        proc = subprocess.run(["apt-get", "download", *missing], cwd=CACHE, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"apt-get download {missing} failed: {proc.stderr}"
    return [sorted(CACHE.glob(f"{p}_*.deb"))[-1] for p in packages]


@pytest.fixture(scope="session")
def pam_tree(tmp_path_factory) -> Path:
    """libpam-runtime, login, openssh-server and the second-factor PAM modules, extracted as shipped."""
    root = tmp_path_factory.mktemp("pamdebs")
    for deb in debs(PAM_PACKAGES):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True, timeout=120)
    return root


@pytest.fixture(scope="session")
def dm_tree(tmp_path_factory) -> Path:
    """The lightdm and gdm3 packages as shipped (their PAM services and configuration), one folder each."""
    base = tmp_path_factory.mktemp("dmdebs")
    for name, deb in zip(DM_PACKAGES, debs(DM_PACKAGES), strict=True):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(base / name)], check=True, timeout=120)
    return base


@pytest.fixture
def add_dm(dm_tree):
    """Install a display manager's /etc (PAM services, lightdm.conf / daemon.conf) into a pam_root."""

    def add(root: Path, name: str) -> None:
        shutil.copytree(dm_tree / name / "etc", root / "etc", symlinks=True, dirs_exist_ok=True)

    return add


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
    settings = policy.check_settings(policy.DEFAULTS[segment]) | overrides
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
        "$auth_additional", "\n".join("auth\t" + line for _p, line in additional)
    )
    (root / "etc/pam.d/common-auth").write_text(out)
    return out


class AptTree:
    """A real apt root: a local repository with mamori-demo 1.0 (main) and 1.0+deb12u1 (…-security),
    1.0 installed by dpkg, package lists fetched by `apt-get update`. Driven with the host's apt/dpkg."""

    def __init__(self, base: Path, security_days_old: float = 40, with_security: bool = True):
        self.base, self.repo, self.root = base, base / "repo", base / "root"
        v1 = self._deb("1.0", "main")
        v2 = self._deb("1.0+deb12u1", "security")
        self._suite("bookworm", v1, "Debian", 100)
        self._suite("bookworm-security", v2, "Debian-Security", security_days_old)
        for d in (
            "etc/apt/apt.conf.d",
            "etc/apt/preferences.d",
            "etc/apt/sources.list.d",
            "etc/apt/trusted.gpg.d",
            "var/lib/apt/lists/partial",
            "var/cache/apt/archives/partial",
            "var/lib/dpkg/info",
            "var/lib/dpkg/updates",
            "var/log/apt",
            "run",
        ):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.root / "var/lib/dpkg/status").write_text("")
        lines = [f"deb [trusted=yes] file:{self.repo} bookworm main"]
        if with_security:
            lines.append(f"deb [trusted=yes] file:{self.repo} bookworm-security main")
        (self.root / "etc/apt/sources.list").write_text("\n".join(lines) + "\n")
        subprocess.run(
            ["dpkg", f"--root={self.root}", f"--log={self.root}/var/log/dpkg.log", "-i", str(v1)],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.apt("update")

    def apt(self, *args: str) -> subprocess.CompletedProcess[str]:
        opts = [
            "-o",
            f"Dir={self.root}",
            "-o",
            f"Dir::State::status={self.root}/var/lib/dpkg/status",
            "-o",
            "APT::Sandbox::User=root",
            "-o",
            f"DPkg::Options::=--root={self.root}",
            "-o",
            f"DPkg::Options::=--log={self.root}/var/log/dpkg.log",
        ]
        proc = subprocess.run(["apt-get", "-q", "-y", *opts, *args], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc

    def _deb(self, version: str, comp: str) -> Path:
        d = self.base / f"build-{version}"
        (d / "DEBIAN").mkdir(parents=True)
        (d / "usr/share/doc/mamori-demo").mkdir(parents=True)
        (d / "usr/share/doc/mamori-demo/README").write_text(f"demo {version}\n")
        (d / "DEBIAN/control").write_text(
            f"Package: mamori-demo\nVersion: {version}\nArchitecture: all\n"
            "Maintainer: Mamori tests <tests@example.org>\nDescription: test package\n"
        )
        out = self.repo / "pool" / comp / f"mamori-demo_{version}_all.deb"
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["dpkg-deb", "--build", "--root-owner-group", str(d), str(out)], check=True, capture_output=True, timeout=60
        )
        return out

    def _suite(self, name: str, deb: Path, label: str, days_old: float) -> None:
        import hashlib
        from datetime import UTC, datetime, timedelta
        from email.utils import format_datetime

        sdir = self.repo / "dists" / name / "main/binary-amd64"
        sdir.mkdir(parents=True)
        packages = subprocess.run(
            ["dpkg-scanpackages", "-m", str(deb.parent.relative_to(self.repo))],
            cwd=self.repo,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        (sdir / "Packages").write_text(packages)
        date = format_datetime(datetime.now(UTC) - timedelta(days=days_old), usegmt=True)
        (self.repo / "dists" / name / "Release").write_text(
            f"Origin: Debian\nLabel: {label}\nSuite: {name}\nCodename: {name}\nDate: {date}\n"
            f"Architectures: amd64 all\nComponents: main\nSHA256:\n"
            f" {hashlib.sha256(packages.encode()).hexdigest()} {len(packages)} main/binary-amd64/Packages\n"
        )


@pytest.fixture
def apt_tree(tmp_path):
    made = []

    need_root("a dpkg-managed apt tree")

    def make(**kw) -> AptTree:
        tree = AptTree(tmp_path / f"apt{len(made)}", **kw)
        made.append(tree)
        return tree

    return make


REPO = Path(__file__).resolve().parents[3]


def in_netns(setup: str, check_id: str, settings: dict | None = None, segment: str = "mynumber") -> dict:
    """Run one check in a network namespace created for the test, after a shell `setup` inside it."""
    import json
    import sys

    need_root("a network namespace")
    code = (
        "import json,sys\nfrom mamori import i18n, policy\nfrom agent.checks import CHECKS\n"
        "from agent.checks.base import Context, execute\ni18n.setup('en')\n"
        f"s = policy.check_settings(policy.DEFAULTS[{segment!r}]) | json.loads(sys.argv[1])\n"
        f"r = execute(CHECKS[{check_id!r}], Context(settings=s, segment={segment!r}))\n"
        "print(json.dumps({'status': r.status, 'summary': r.summary, 'evidence': r.evidence}))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    script = f'{setup}\nexec "$0" -c "$1" "$2"'
    proc = subprocess.run(
        ["unshare", "--net", "sh", "-ec", script, sys.executable, code, json.dumps(settings or {})],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)
