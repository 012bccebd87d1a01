"""MED-002: any file written to removable media on a マイナンバー利用事務系 terminal."""

from collector.rules.base import N_, Flag, Rule, event


def evaluate(s, params):
    p = s.payload
    return Flag(
        N_(
            "{path} ({size} bytes) written by {user}",
            path=p.get("path", "?"),
            size=p.get("size", 0),
            user=p.get("user", "") or "?",
        ),
        {k: p.get(k) for k in ("path", "size", "sha256", "user", "device_serial") if p.get(k)},
    )


RULE = Rule(
    id="MED-002",
    title_text=N_("File written to removable media on a My Number terminal"),
    severity={"mynumber": "critical"},
    clause_bp=("BP6(3)①",),
    clause_g=(),
    evidence_text=N_("media.write events (path, size, SHA-256, user, device serial)"),
    remediation_text=N_("Identify and recover the data and the medium; check the terminal's media control."),
    evaluate=evaluate,
    kinds=("media.write",),
)

FLAGS = [event("mynumber", "media.write", {"path": "/media/usb/住民票.csv", "size": 2048, "user": "tanaka"})]
PASSES = [event("lgwan", "media.write", {"path": "/media/usb/a.txt", "size": 1})]  # not a mynumber terminal
