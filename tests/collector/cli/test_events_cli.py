"""events show: one event by its 証跡ID; a check's evidence is stored once, as a nested object."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from collector.store.models import events


def _stored_payload(cli, event_id):
    with cli.engine.connect() as conn:
        return conn.execute(select(events.c.payload).where(events.c.event_id == event_id)).scalar_one()


def test_check_evidence_is_stored_as_an_object_not_json_text(cli):
    a = cli.agent("lgwan")
    ev = cli.check(a, "firewall", "fail", {"enabled": False, "source": "nft -j list ruleset"})
    stored = _stored_payload(cli, ev.event_id)
    assert "evidence_json" not in stored
    assert stored["evidence"] == {"enabled": False, "source": "nft -j list ruleset"}
    # Text that is no JSON object is kept as the agent sent it (nothing is lost), and judged on its status.
    bad = cli.send(a, "check.result", {"check_id": "firewall", "status": "fail", "evidence_json": "{oops"})
    assert _stored_payload(cli, bad.event_id) == {"check_id": "firewall", "status": "fail", "evidence_json": "{oops"}


def test_events_show_by_evidence_id_human_and_json(cli):
    a = cli.agent("mynumber", hostname="住民係-PC01")
    ev = cli.check(
        a,
        "mfa",
        "fail",
        {
            "local_mfa": False,
            "logon": [
                {
                    "service": "login",
                    "modules": [{"line": "auth required pam_unix.so", "file": "/etc/pam.d/common-auth"}],
                }
            ],
        },
    )
    data = cli.json("events", "show", ev.event_id)
    assert data["event_id"] == ev.event_id and data["kind"] == "check.result"
    assert data["payload"]["evidence"]["local_mfa"] is False and "evidence_json" not in data["payload"]
    code, out, _ = cli.run("events", "show", ev.event_id)
    assert code == 0 and "証跡ID" in out and "住民係-PC01" in out and "点検項目" in out and "mfa" in out
    assert "auth required pam_unix.so" in out and "証跡:" in out
    # The violation it raised names this event as its evidence, and shows the check's evidence itself.
    (v,) = cli.json("violations", "list")
    assert v["rule_id"] == "AUT-001" and v["event_id"] == ev.event_id
    assert v["evidence"]["check"]["evidence"]["logon"][0]["modules"][0]["line"] == "auth required pam_unix.so"
    code, out, _ = cli.run("violations", "show", str(v["id"]))
    assert code == 0 and "auth required pam_unix.so" in out


def test_rows_stored_before_evidence_was_decoded_still_read(cli):
    a = cli.agent("lgwan")
    ev = cli.check(a, "firewall", "fail", {"enabled": False})
    with cli.engine.begin() as conn:  # the layout of an earlier release: evidence as JSON text in the payload
        conn.execute(
            update(events)
            .where(events.c.event_id == ev.event_id)
            .values(payload={"check_id": "firewall", "status": "fail", "evidence_json": json.dumps({"enabled": False})})
        )
    assert cli.json("events", "show", ev.event_id)["payload"]["evidence"] == {"enabled": False}
    listed = cli.json("events", "list", "--kind", "check.result")
    assert listed[0]["payload"]["evidence"] == {"enabled": False}


def test_an_unknown_event_id_is_refused_in_japanese(cli):
    code, _, err = cli.run("events", "show", "0190f6a0-0000-7000-8000-000000000000")
    assert code == 2 and "イベント" in err and "events list" in err
