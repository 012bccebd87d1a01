"""Check -> event -> rule -> violation end to end: real checks on the suite's real fixtures (PAM trees, apt and
dnf repositories, recorded Windows output, network namespaces), their real Result payloads stored through the
collector's ingest, judged by the real rules under the same policy document the check read its settings from."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent.checks import CHECKS, base
from agent.checks.base import Context, Result
from agent.host.windows import host as windows
from agent.usb import state as media_state
from collector.store import queries
from collector.store import violations as vstore
from collector.store.db import make_engine, upgrade
from collector.store.ingest import store_batch
from mamori import policy
from mamori.events import Event
from mamori.ids import uuid7
from tests.agent.checks.conftest import in_netns
from tests.agent.checks.test_antivirus import signatures
from tests.agent.checks.test_disk_encryption import root_with
from tests.agent.checks.test_mfa import login_with, no_sshd
from tests.agent.checks.test_patch import dnf_root, wua
from tests.agent.checks.test_screen_lock import GOOD, LOCKS, dconf
from tests.agent.checks.test_time_sync import tool

DATA = Path(__file__).resolve().parents[1] / "agent/checks/data"


class Pipeline:
    """A collector store with one terminal per call to `terminal`; the policy the check reads is the policy the
    collector judges with (stored for the segment, as `policy set` does)."""

    def __init__(self, engine):
        self.engine = engine
        self.seq: dict[str, int] = {}

    def terminal(self, segment: str) -> str:
        agent_id = str(uuid.uuid4())
        queries.create_agent(
            self.engine,
            agent_id=agent_id,
            segment=segment,
            department="市民課",
            hostname=f"pc-{agent_id[:4]}",
            os="linux",
            os_version="12",
            agent_version="0.1",
            machine_id=agent_id,
            cert_serial=uuid.uuid4().int,
            cert_sha256="ab" * 32,
            cert_not_after=datetime.now(UTC) + timedelta(days=365),
            enrolled_at=datetime(2020, 1, 1, tzinfo=UTC),
        )
        return agent_id

    def context(self, segment: str, root: Path = Path("/"), rules: dict | None = None, **kw) -> Context:
        document = copy.deepcopy(policy.DEFAULTS[segment])
        if rules:
            document["rules"] = rules
        document = policy.validate(document)
        queries.set_policy(
            self.engine,
            segment=segment,
            version=policy.version_of(document),
            document=document,
            updated_by="test",
            updated_at=datetime.now(UTC),
        )
        return Context(settings=policy.check_settings(document), root=root, segment=segment, **kw)

    def run(self, check_id: str, ctx: Context, agent: str | None = None) -> tuple[Result, str]:
        return self.send(base.execute(CHECKS[check_id], ctx), ctx.segment, ctx.now, agent)

    def send(self, res: Result, segment: str, at: datetime, agent: str | None = None) -> tuple[Result, str]:
        agent = agent or self.terminal(segment)
        self.seq[agent] = self.seq.get(agent, 0) + 1
        module = CHECKS.get(res.check_id, media_state)
        severity = (
            base.severity(module, res) if module is not media_state else media_state.severity(res.payload(), segment)
        )
        ev = Event(
            kind="check.result",
            payload=res.payload(),
            severity=severity,
            seq=self.seq[agent],
            event_id=str(uuid7()),
            occurred_at=at,
        )
        store_batch(self.engine, agent, [ev], received_at=at)
        return res, agent

    def open(self, agent: str) -> dict[str, vstore.ViolationRow]:
        with self.engine.connect() as conn:
            return {v.rule_id: v for v in vstore.list_violations(conn, agent_id=agent, status="active")}

    def resolved(self, agent: str) -> dict[str, vstore.ViolationRow]:
        with self.engine.connect() as conn:
            return {v.rule_id: v for v in vstore.list_violations(conn, agent_id=agent, status="resolved")}


@pytest.fixture
def pipe(tmp_path):
    url = f"sqlite:///{tmp_path / 'collector.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield Pipeline(engine)
    engine.dispose()


def win(*regs: str, **queries_: object) -> windows.RegFileSource:
    return windows.RegFileSource([(DATA / "windows" / r).read_text(encoding="utf-16") for r in regs], queries_)


def recorded(name: str) -> object:
    return json.loads((DATA / "windows" / name).read_text(encoding="utf-8-sig"))


# --- mfa: AUT-001 / AUT-002 -------------------------------------------------------------------------


def test_weak_pam_tree_is_aut_001_on_mynumber_with_the_stack_as_evidence_and_a_strong_one_clears(pipe, pam_root):
    no_sshd(pam_root)
    res, agent = pipe.run("mfa", pipe.context("mynumber", pam_root))
    assert res.status == "fail"
    (v,) = pipe.open(agent).values()
    assert (v.rule_id, v.severity) == ("AUT-001", "critical")
    check = v.evidence["check"]
    assert check["check_id"] == "mfa" and check["evidence"]["local_mfa"] is False
    login = next(s for s in check["evidence"]["logon"] if s["service"] == "login")
    assert "/etc/pam.d/login" in " ".join(login["files"])
    assert any(m.startswith("pam_unix@") and ":" in m for m in login["weakest_way"]["modules"])  # module@file:line
    login_with(pam_root, after="auth required pam_u2f.so")
    res, _ = pipe.run("mfa", pipe.context("mynumber", pam_root), agent)
    assert res.status == "pass" and pipe.open(agent) == {}
    assert pipe.resolved(agent)["AUT-001"].resolved_by == "mamori"


def test_a_weak_sshd_alone_is_aut_002_never_aut_001(pipe, pam_root):
    login_with(pam_root, after="auth required pam_u2f.so")  # local logon strong; the shipped sshd_config is not
    res, agent = pipe.run("mfa", pipe.context("mynumber", pam_root))
    assert res.status == "fail" and set(pipe.open(agent)) == {"AUT-002"}


def test_weak_logon_is_only_recommended_on_lgwan(pipe, pam_root):
    no_sshd(pam_root)
    res, agent = pipe.run("mfa", pipe.context("lgwan", pam_root))
    assert res.status == "pass" and pipe.open(agent) == {}


@pytest.mark.parametrize(
    ("regs", "flagged"),
    [
        (["credential_providers_stock.reg"], {"AUT-001"}),
        (["credential_providers_stock.reg", "scforceoption.reg"], set()),
        (["credential_providers_stock.reg", "rdp_enabled.reg"], {"AUT-001", "AUT-002"}),
    ],
)
def test_windows_logon(pipe, regs, flagged):
    res, agent = pipe.run("mfa", pipe.context("mynumber", platform="windows", windows=win(*regs)))
    assert set(pipe.open(agent)) == flagged, res.summary


# --- patch: PAT-001..003 ----------------------------------------------------------------------------


def test_a_critical_update_past_critical_days_is_pat_001_and_the_knob_moves_check_and_rule_together(pipe, tmp_path):
    now = datetime(2024, 6, 30, tzinfo=UTC)
    root = dnf_root(tmp_path, now - timedelta(days=1))
    res, agent = pipe.run("patch", pipe.context("lgwan", root, rules={"PAT-001": {"days": 90}}, now=now))
    assert res.status == "fail" and set(pipe.open(agent)) == {"PAT-001"}
    assert pipe.open(agent)["PAT-001"].detail.startswith("3 security updates, a critical one pending")
    # One setting: a laxer critical_days in the policy passes the check and clears the violation alike.
    res, _ = pipe.run(
        "patch", pipe.context("lgwan", root, rules={"PAT-001": {"days": 90, "critical_days": 60}}, now=now), agent
    )
    assert res.status == "pass" and pipe.open(agent) == {}


def test_dnf_metadata_not_refreshed_is_pat_002(pipe, tmp_path):
    now = datetime(2024, 6, 20, tzinfo=UTC)
    ctx = pipe.context("lgwan", dnf_root(tmp_path, now - timedelta(days=20)), rules={"PAT-001": {"days": 90}}, now=now)
    res, agent = pipe.run("patch", ctx)
    assert res.status == "fail" and set(pipe.open(agent)) == {"PAT-002"}


def test_apt_security_update_older_than_days_is_pat_001(pipe, apt_tree):
    tree = apt_tree(security_days_old=40)
    res, agent = pipe.run("patch", pipe.context("lgwan", tree.root))
    # The fixture's security suite was last published 40 days ago too: a stale mirror, which the check and
    # PAT-002 both report.
    assert res.status == "fail" and "not refreshed" in res.summary
    assert set(pipe.open(agent)) == {"PAT-001", "PAT-002"}
    assert pipe.open(agent)["PAT-001"].detail.endswith("oldest 40 days")


def test_apt_without_a_security_source_is_pat_002(pipe, apt_tree):
    tree = apt_tree(with_security=False)
    res, agent = pipe.run("patch", pipe.context("lgwan", tree.root))
    assert res.status == "fail" and "PAT-002" in pipe.open(agent)


@pytest.mark.parametrize(
    ("name", "regs", "flagged"),
    [
        # pending 20 days (critical 14) and the last search 11 days ago: the check reports both, as the rules do
        ("wua_pending_security.json", ["wsus_policy.reg"], {"PAT-001", "PAT-002"}),
        ("wua_stale_search.json", [], {"PAT-002"}),
        ("wua_up_to_date.json", ["wsus_policy.reg"], set()),
    ],
)
def test_windows_update(pipe, name, regs, flagged):
    ctx = pipe.context("lgwan", platform="windows", windows=wua(name, *regs), now=datetime(2024, 7, 1, tzinfo=UTC))
    res, agent = pipe.run("patch", ctx)
    assert set(pipe.open(agent)) == flagged, res.summary


def test_a_windows_reboot_pending_past_its_days_is_pat_003(pipe, tmp_path):
    now = datetime(2024, 7, 1, tzinfo=UTC)
    (tmp_path / "patch_seen.json").write_text(json.dumps({"reboot": (now - timedelta(days=10)).isoformat()}))
    ctx = pipe.context(
        "lgwan",
        platform="windows",
        now=now,
        state_dir=tmp_path,
        windows=wua("wua_up_to_date.json", "wsus_policy.reg", "reboot_required.reg"),
    )
    res, agent = pipe.run("patch", ctx)
    assert res.status == "fail" and set(pipe.open(agent)) == {"PAT-003"}


# --- antivirus: MAL-001 / MAL-002 -------------------------------------------------------------------


def test_clamav_installed_but_not_running_is_mal_001(pipe, clam_root):
    signatures(clam_root, 0.5)
    res, agent = pipe.run("antivirus", pipe.context("lgwan", clam_root))
    assert res.status == "fail" and set(pipe.open(agent)) == {"MAL-001"}
    assert "not running" in pipe.open(agent)["MAL-001"].detail


def test_clamav_running_with_stale_signatures_is_mal_002_only(pipe, clam_root, started):
    started("clamd")
    started("clamonacc")
    signatures(clam_root, 10)
    res, agent = pipe.run("antivirus", pipe.context("lgwan", clam_root))
    assert res.status == "fail" and set(pipe.open(agent)) == {"MAL-002"}
    signatures(clam_root, 0.5)
    res, _ = pipe.run("antivirus", pipe.context("lgwan", clam_root), agent)
    assert res.status == "pass" and pipe.open(agent) == {}


@pytest.mark.parametrize(
    ("name", "flagged"),
    [
        ("defender_ok.json", set()),
        ("defender_rtp_off.json", {"MAL-001", "MAL-002"}),
        ("defender_passive.json", {"MAL-001"}),
    ],
)
def test_defender(pipe, name, flagged):
    ctx = pipe.context("lgwan", platform="windows", windows=windows.RegFileSource([], {"defender": recorded(name)}))
    res, agent = pipe.run("antivirus", ctx)
    assert set(pipe.open(agent)) == flagged, res.summary


# --- screen_lock: AUT-003 ---------------------------------------------------------------------------


def test_screen_lock_and_the_one_max_minutes_knob(pipe, gnome):
    res, agent = pipe.run("screen_lock", pipe.context("lgwan", gnome))  # shipped defaults: staff can change them
    assert res.status == "fail" and set(pipe.open(agent)) == {"AUT-003"}
    dconf(gnome, GOOD.replace("uint32 600", "uint32 1200"), LOCKS)  # 20 minutes, locked
    res, agent = pipe.run("screen_lock", pipe.context("lgwan", gnome))
    assert res.status == "fail" and set(pipe.open(agent)) == {"AUT-003"}
    res, _ = pipe.run("screen_lock", pipe.context("lgwan", gnome, rules={"AUT-003": {"max_minutes": 30}}), agent)
    assert res.status == "pass" and pipe.open(agent) == {}


# --- disk_encryption, firewall, time_sync, software, os_support -------------------------------------


@pytest.mark.parametrize(
    ("name", "laptop", "flagged", "severity"),
    [
        ("luks_lvm_laptop.json", True, set(), None),
        ("plain_desktop.json", False, {"ENC-001"}, "medium"),
        ("plain_desktop.json", True, {"ENC-001"}, "high"),
    ],
)
def test_disk_encryption(pipe, tmp_path, name, laptop, flagged, severity):
    res, agent = pipe.run("disk_encryption", pipe.context("lgwan", root_with(tmp_path, name, laptop=laptop)))
    assert set(pipe.open(agent)) == flagged, res.summary
    if severity:
        assert pipe.open(agent)["ENC-001"].severity == severity


@pytest.mark.parametrize(
    ("regs", "flagged"), [(["firewall_all_on.reg"], set()), (["firewall_gpo_public_off.reg"], {"NET-001"})]
)
def test_windows_firewall(pipe, regs, flagged):
    res, agent = pipe.run("firewall", pipe.context("internet", platform="windows", windows=win(*regs)))
    assert set(pipe.open(agent)) == flagged, res.summary


def test_no_nftables_is_net_001(pipe, tmp_path):
    res, agent = pipe.run("firewall", pipe.context("internet", tmp_path))
    assert res.status == "fail" and set(pipe.open(agent)) == {"NET-001"}


@pytest.mark.parametrize(
    ("name", "rules", "flagged"),
    [
        ("chronyc_tracking_synced.txt", None, set()),
        ("chronyc_tracking_unsynced.txt", None, {"OPS-001"}),
        ("chronyc_tracking_offset.txt", None, {"OPS-001"}),
        ("chronyc_tracking_offset.txt", {"OPS-001": {"max_offset_seconds": 120}}, set()),
    ],
)
def test_chrony(pipe, tmp_path, name, rules, flagged):
    tool(tmp_path, "chronyc", f"cat {DATA / 'time' / name}")
    res, agent = pipe.run("time_sync", pipe.context("lgwan", tmp_path, rules=rules))
    assert set(pipe.open(agent)) == flagged, res.summary


def test_windows_time(pipe):
    ctx = pipe.context(
        "lgwan",
        platform="windows",
        windows=windows.RegFileSource([], {"w32tm_status": (DATA / "time" / "w32tm_unsynced.txt").read_text()}),
    )
    res, agent = pipe.run("time_sync", ctx)
    assert res.status == "fail" and set(pipe.open(agent)) == {"OPS-001"}


def test_software_permitted_list_is_sw_001s_parameter_on_the_terminal_too(pipe, apt_tree):
    tree = apt_tree()
    res, agent = pipe.run("software", pipe.context("lgwan", tree.root, rules={"SW-001": {"permitted": ["lib*"]}}))
    assert res.status == "fail" and "mamori-demo" in pipe.open(agent)["SW-001"].detail
    res, _ = pipe.run(
        "software", pipe.context("lgwan", tree.root, rules={"SW-001": {"permitted": ["mamori-*"]}}), agent
    )
    assert res.status == "pass" and pipe.open(agent) == {}


def test_windows_forbidden_software(pipe):
    ctx = pipe.context("lgwan", platform="windows", windows=win("uninstall.reg"))
    ctx.settings["software_forbidden"] = ["*"]
    res, agent = pipe.run("software", ctx)
    assert res.status == "fail" and set(pipe.open(agent)) == {"SW-001"}


@pytest.mark.parametrize(
    ("release", "flagged"),
    [
        ('ID=debian\nVERSION_ID="10"\nPRETTY_NAME="Debian GNU/Linux 10 (buster)"\n', {"PAT-004"}),
        ('ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n', set()),
    ],
)
def test_os_support(pipe, tmp_path, release, flagged):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text(release)
    res, agent = pipe.run("os_support", pipe.context("lgwan", tmp_path, now=datetime(2026, 11, 29, tzinfo=UTC)))
    assert set(pipe.open(agent)) == flagged, res.summary
    if flagged:
        assert "Debian" in pipe.open(agent)["PAT-004"].detail  # the release the check names, not "OS"


# --- network_segment: NET-002 / NET-003; media_control: MED-006 -------------------------------------

TWO_NICS = (
    "ip link set lo up\nip link add d0 type veth peer name p0\nip addr add 10.20.1.5/24 dev d0\n"
    "ip link set p0 up\nip link set d0 up\nip link add d1 type veth peer name p1\n"
    "ip addr add 10.20.2.5/24 dev d1\nip link set p1 up\nip link set d1 up"
)
LISTENER = (
    '"$0" -c "import socket,time; s=socket.socket(); s.bind((\'127.0.0.1\', 18443)); s.listen(); '
    'time.sleep(8)" >/dev/null 2>&1 &\nsleep 0.5'
)


@pytest.mark.parametrize(
    ("rules", "flagged"), [(None, {"NET-002", "NET-003"}), ({"NET-003": {"max_active_interfaces": 2}}, {"NET-002"})]
)
def test_network_segment_in_a_namespace(pipe, rules, flagged):
    ctx = pipe.context("mynumber", rules=rules)
    settings = {k: ctx.settings[k] for k in ("max_active_interfaces",)}
    got = in_netns(
        TWO_NICS + "\n" + LISTENER,
        "network_segment",
        {**settings, "networks": ["10.20.0.0/16"], "probe_targets": ["127.0.0.1:18443"]},
    )
    res = Result(got["status"], got["summary"], got["evidence"], check_id="network_segment")
    _, agent = pipe.send(res, "mynumber", datetime.now(UTC))
    assert set(pipe.open(agent)) == flagged, got["summary"]


def test_media_control_not_in_force_is_med_006_and_its_return_resolves_it(pipe):
    now = datetime.now(UTC)
    _, agent = pipe.send(media_state.result(False, "block", "no USB sysfs", "LinuxHost"), "mynumber", now)
    assert {(r, v.severity) for r, v in pipe.open(agent).items()} == {("MED-006", "critical")}
    pipe.send(media_state.result(True, "block"), "mynumber", now + timedelta(minutes=1), agent)
    assert pipe.open(agent) == {} and "MED-006" in pipe.resolved(agent)
