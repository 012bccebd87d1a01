"""[forward] and [alerts] in collector.toml: good settings become typed routes, bad ones are refused at FILE:LINE."""

from __future__ import annotations

import pytest

from collector.config import DataDir
from collector.forward import outbox
from mamori.tomlconf import ConfigError


def _load(tmp_path, text: str):
    (tmp_path / "collector.toml").write_text(text, encoding="utf-8")
    return DataDir(tmp_path).load_settings()


def test_settings_become_routes(tmp_path, routes):
    (tmp_path / "pw").write_text("s3cret\n", encoding="utf-8")
    values = _load(
        tmp_path,
        f"""
[forward]
syslog = "tcp://127.0.0.1:6514"
format = "cef"
what = ["violations", "events:usb.*"]

[alerts]
smtp = "127.0.0.1:25"
from = "mamori@example.lg.jp"
to = ["soc@example.lg.jp"]
password_file = "{tmp_path / "pw"}"
min_severity = "high"

[alerts.segment.mynumber]
to = ["mynumber@example.lg.jp"]

[alerts.department."税務課"]
to = ["zeimu@example.lg.jp"]
""",
    )
    r = outbox.configure(values)
    assert r.forward.syslog.label == "tcp://127.0.0.1:6514" and r.forward.format == "cef"
    assert r.forward.wants_event("usb.blocked") and not r.forward.wants_event("media.write")
    assert r.alerts.password == "s3cret" and r.alerts.min_severity == "high"
    assert r.alerts.recipients("mynumber", "税務課") == (
        "soc@example.lg.jp",
        "mynumber@example.lg.jp",
        "zeimu@example.lg.jp",
    )
    assert r.alerts.recipients("lgwan", "市民課") == ("soc@example.lg.jp",)


def test_the_defaults_forward_nothing(tmp_path, routes):
    r = outbox.configure(_load(tmp_path, ""))
    assert r.forward is None and r.alerts is None


@pytest.mark.parametrize(
    "text,line,says",
    [
        ('[forward]\nsyslog = "http://127.0.0.1:514"\n', 2, "tcp://HOST:PORT"),
        ('[forward]\nsyslog = "tcp://127.0.0.1"\n', 2, "tcp://HOST:PORT"),
        ('[forward]\n\nformat = "xml"\n', 3, "json, cef"),
        ('[forward]\nwhat = ["violations", "usb.*"]\n', 2, "events:KIND"),
        ('[forward]\nsyslog = "tcp://127.0.0.1:514"\nca_file = "/nonexistent/ca.pem"\n', 3, "only used with a tls"),
        ('[forward]\nsyslog = "tls://127.0.0.1:514"\nca_file = "/nonexistent/ca.pem"\n', 3, "no such file"),
        ('[alerts]\nsmtp = "127.0.0.1"\n', 2, "HOST:PORT"),
        ('[alerts]\nsmtp = "127.0.0.1:25"\nto = ["soc@example.lg.jp"]\n', 2, "alerts.from must be set"),
        ('[alerts]\nsmtp = "127.0.0.1:25"\nfrom = "m@example.lg.jp"\n', 2, "no recipients"),
        ('[alerts]\nto = ["soc at example"]\n', 2, "not a mail address"),
        ('[alerts]\nmin_severity = "urgent"\n', 2, "critical"),
        ('[alerts]\nx = 1\n\n[alerts.segment.bogus]\nto = ["a@example.lg.jp"]\n', 2, "unknown key"),
        ('[alerts]\nlang = "en"\n\n[alerts.segment.bogus]\nto = ["a@example.lg.jp"]\n', 4, "unknown segment"),
        ('[alerts.department."税務課"]\n\nto = ["zeimu"]\n', 3, "not a mail address"),
        ('[alerts.department."税務課"]\ncc = ["a@example.lg.jp"]\n', 1, "one key: to"),
        ('[alerts.department."税務課"]\nto = "zeimu@example.lg.jp"\n', 2, "must list at least one address"),
        (
            '[alerts]\nsmtp = "127.0.0.1:25"\nfrom = "m@example.lg.jp"\nto = ["a@example.lg.jp"]\n'
            'password = "x"\npassword_file = "/etc/pw"\n',
            6,
            "not both",
        ),
    ],
)
def test_bad_settings_are_refused_with_file_and_line(tmp_path, text, line, says):
    with pytest.raises(ConfigError) as err:
        _load(tmp_path, text)
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'collector.toml'}:{line}: "), message
    assert says in message and "\n" not in message


def test_a_password_file_that_is_not_utf8_is_refused_in_one_line(tmp_path):
    (tmp_path / "pw").write_bytes(b"\xff\xfe secret")
    with pytest.raises(ConfigError) as err:
        _load(
            tmp_path,
            '[alerts]\nsmtp = "127.0.0.1:25"\nfrom = "m@example.lg.jp"\nto = ["a@example.lg.jp"]\n'
            f'password_file = "{tmp_path / "pw"}"\n',
        )
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'collector.toml'}:5: "), message
    assert "cannot read" in message and "utf-8" in message and "\n" not in message
