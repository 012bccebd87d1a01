"""network_segment: real interfaces in a network namespace made by the test; probes only to 127.0.0.1 or
addresses inside that namespace."""

from __future__ import annotations

from agent.checks import base, network_segment
from tests.agent.checks.conftest import in_netns, make_ctx

# veth pairs: the peer (no address) stays inside the namespace; veth exists wherever network namespaces do.
ONE_NIC = (
    "ip link set lo up\nip link add d0 type veth peer name p0\nip addr add 10.20.1.5/24 dev d0\n"
    "ip link set p0 up\nip link set d0 up"
)
TWO_NICS = ONE_NIC + (
    "\nip link add d1 type veth peer name p1\nip addr add 192.168.9.2/24 dev d1\nip link set p1 up\nip link set d1 up"
)
LISTENER = (
    '"$0" -c "import socket,time; s=socket.socket(); s.bind((\'127.0.0.1\', 18443)); s.listen(); '
    'time.sleep(8)" >/dev/null 2>&1 &\nsleep 0.5'
)


def test_registered_network_and_blocked_probes_pass():
    res = in_netns(
        ONE_NIC,
        "network_segment",
        {
            "networks": ["10.20.0.0/16"],
            "probe_targets": ["10.30.0.1:443", "127.0.0.1:18443"],
            "probe_timeout_seconds": 0.5,
        },
    )
    assert res["status"] == "pass", res
    assert {p["target"]: p["result"] for p in res["evidence"]["probes"]} == {
        "10.30.0.1:443": "unreachable",
        "127.0.0.1:18443": "refused",
    }


def test_address_outside_registered_networks_fails():
    res = in_netns(ONE_NIC, "network_segment", {"networks": ["10.99.0.0/16"]})
    assert res["status"] == "fail" and "d0 10.20.1.5/24" in res["summary"]


def test_dual_homed_fails():
    res = in_netns(TWO_NICS, "network_segment", {"networks": ["10.20.0.0/16", "192.168.0.0/16"]})
    assert res["status"] == "fail" and "dual-homed" in res["summary"]


def test_reachable_other_segment_fails():
    res = in_netns(
        ONE_NIC + "\n" + LISTENER,
        "network_segment",
        {"networks": ["10.20.0.0/16"], "probe_targets": ["127.0.0.1:18443"]},
    )
    assert res["status"] == "fail" and "127.0.0.1:18443" in res["summary"]


def test_nothing_configured_is_not_applicable():
    assert in_netns(ONE_NIC, "network_segment")["status"] == "not_applicable"


def test_interface_listing_failure_is_an_error(monkeypatch):
    from agent.host import net

    def broken():
        raise OSError(13, "permission denied")

    monkeypatch.setattr(net, "interfaces", broken)
    res = base.execute(network_segment, make_ctx("mynumber"))
    assert res.status == "error" and "permission denied" in res.summary


def test_critical_on_mynumber_when_isolation_broken(monkeypatch):
    from agent.host import net

    monkeypatch.setattr(net, "interfaces", lambda: [net.Interface("d0", True, ("10.20.1.5/24",))])
    monkeypatch.setattr(net, "probe", lambda target, timeout: {"target": target, "result": "connected"})
    res = base.execute(network_segment, make_ctx("mynumber", networks=["10.20.0.0/16"], probe_targets=["127.0.0.1:1"]))
    assert res.status == "fail" and base.severity(network_segment, res) == "critical"
