"""token list/revoke, the operator's login name in the audit log, and audit-log verify, through the real CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from collector import pki
from collector.store import queries
from collector.store.models import audit_log


def _token(cli, *extra: str) -> tuple[str, int]:
    created = cli.json("token", "create", "--segment", "lgwan", "--department", "市民課", *extra)
    row = next(t for t in queries.list_tokens(cli.engine) if t.token_hash == pki.hash_token(created["token"]))
    return created["token"], row.id


def test_token_list_shows_states_and_never_the_secret(cli):
    active, active_id = _token(cli, "--uses", "3")
    used, used_id = _token(cli)
    queries.consume_token(cli.engine, pki.hash_token(used), cli.now)
    revoked, revoked_id = _token(cli, "--expires", "7d")
    assert cli.run("token", "revoke", str(revoked_id), "--by", "佐藤")[0] == 0
    expired, expired_id = _token(cli, "--expires", "1h")
    cli.now += timedelta(hours=2)

    listed = {t["id"]: t for t in cli.json("token", "list")}
    assert {i: t["state"] for i, t in listed.items()} == {
        active_id: "active",
        used_id: "used_up",
        revoked_id: "revoked",
        expired_id: "expired",
    }
    assert listed[active_id]["uses_left"] == 3 and listed[revoked_id]["revoked_by"] == "佐藤"
    code, out, _ = cli.run("token", "list")
    assert code == 0
    for state in ("有効", "使用済み", "取消", "期限切れ"):
        assert state in out
    assert "残り回数" in out and "市民課" in out
    for secret in (active, used, revoked, expired):
        assert secret not in out and secret not in str(listed)
        assert pki.hash_token(secret) not in out and pki.hash_token(secret) not in str(listed)


def test_a_revoked_token_enrolls_nothing(cli):
    token, token_id = _token(cli, "--uses", "5")
    code, out, _ = cli.run("token", "revoke", str(token_id))
    assert code == 0 and f"トークン {token_id} を取り消しました" in out
    with pytest.raises(queries.TokenError) as err:
        queries.consume_token(cli.engine, pki.hash_token(token), cli.now)
    assert (err.value.reason, err.value.token_id) == ("revoked", token_id)
    code, _, err_text = cli.run("token", "revoke", str(token_id))  # the first revocation stands
    assert code != 0 and "token list" in err_text
    entry = cli.json("audit-log", "list", "--action", "token.revoke")
    assert [e["target"] for e in entry] == [f"token:{token_id}"]


def test_audit_log_names_the_login_behind_sudo(cli, monkeypatch):
    monkeypatch.setenv("SUDO_USER", "tanaka")
    _token(cli, "--by", "田中 一郎")
    monkeypatch.delenv("SUDO_USER")
    monkeypatch.setattr("getpass.getuser", lambda: "svc-ops")
    _token(cli, "--by", "田中 一郎")
    entries = cli.json("audit-log", "list", "--action", "token.create")
    assert [(e["actor"], e["os_user"]) for e in entries] == [("田中 一郎", "svc-ops"), ("田中 一郎", "tanaka")]
    code, out, _ = cli.run("audit-log", "list")
    assert "田中 一郎 (tanaka)" in out


def _ids(cli) -> list[int]:
    with cli.engine.connect() as conn:
        return list(conn.execute(sa.select(audit_log.c.id).order_by(audit_log.c.id)).scalars())


def test_verify_passes_on_an_intact_log(cli):
    for _i in range(3):
        _token(cli)
    assert cli.run("audit-log", "verify") == (0, "改ざんは検出されませんでした\n", "")


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_verify_names_the_first_broken_entry(cli, tamper):
    for _i in range(4):
        _token(cli)
    ids = _ids(cli)
    with cli.engine.begin() as conn:
        if tamper == "edit":
            conn.execute(sa.text("UPDATE audit_log SET actor = 'someone else' WHERE id = :id"), {"id": ids[1]})
        else:
            conn.execute(sa.text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[1]})
    code, out, _ = cli.run("audit-log", "verify")
    broken = ids[1] if tamper == "edit" else ids[2]
    assert code == 1
    assert out.count("\n") == 1 and out.startswith(f"改ざんを検出しました: 監査ログの記録 {broken} (")
    assert "token.create" in out and "それより前の 1 件は正常です" in out
