"""report: periods, 令和, and every format read back and checked against the stored violations."""

from __future__ import annotations

import csv
import io
import json
import shutil
import struct
import subprocess
import zlib
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from collector.reports.period import PeriodError, parse_period, reiwa
from collector.store.models import agents, violations

NOV = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "text,first,last",
    [
        ("2026-11", "2026-11-01", "2026-11-30"),
        ("2026-Q3", "2026-07-01", "2026-09-30"),
        ("FY2026", "2026-04-01", "2027-03-31"),
        ("fy2026-q4", "2027-01-01", "2027-03-31"),
        ("2026-12", "2026-12-01", "2026-12-31"),
        ("2026-04-01..2026-09-30", "2026-04-01", "2026-09-30"),
    ],
)
def test_periods(text, first, last):
    p = parse_period(text)
    assert (p.start.date().isoformat(), p.last_day.isoformat()) == (first, last)
    assert p.start.utcoffset().total_seconds() == 9 * 3600  # days are Japan days


@pytest.mark.parametrize("bad", ["2026-13", "2026-Q5", "FY26", "2026-09-30..2026-04-01", "last month"])
def test_bad_periods(bad):
    with pytest.raises(PeriodError, match="FY2026"):
        parse_period(bad)


def test_reiwa():
    assert reiwa(date(2019, 5, 1)) == "令和元年5月1日"
    assert reiwa(date(2026, 11, 2)) == "令和8年11月2日"
    assert reiwa(date(2019, 4, 30)) == "2019年4月30日"


@pytest.fixture
def store(cli):
    a1 = cli.agent("mynumber", "市民課", "住民-01")
    cli.agent("mynumber", "市民課", "住民-02")
    b1 = cli.agent("lgwan", "税務課", "税務-01")
    b2 = cli.agent("lgwan", "税務課", "税務-02")
    c1 = cli.agent("internet", "企画課", "企画-01")
    cli.send(a1, "media.write", {"path": "/media/usb/住民票.csv", "user": "tanaka"}, at=NOV.replace(day=3))
    cli.check(b1, "firewall", "fail", {"enabled": False}, at=NOV.replace(day=10))
    cli.check(b2, "software", "fail", {"unauthorised": ["Dropbox"]}, at=NOV.replace(day=12))
    cli.send(
        c1,
        "usb.blocked",
        {"vendor_id": "0781", "interface_classes": ["08:06:50"]},
        at=datetime(2026, 10, 20, tzinfo=UTC),
    )
    ids = {v["rule_id"]: v["id"] for v in cli.json("violations", "list")}
    assert cli.run("violations", "resolve", str(ids["MED-002"]), "--by", "鈴木", "--note", "回収")[0] == 0
    assert (
        cli.run(
            "exceptions",
            "add",
            "--agent",
            b2,
            "--rule",
            "SW-001",
            "--until",
            "2027-03-31",
            "--reason",
            "業務上必要",
            "--approved-by",
            "課長",
        )[0]
        == 0
    )
    cli.now = datetime(2026, 12, 5, tzinfo=UTC)  # the reports are made after November has ended
    return cli


def _expected_by_department(engine, start, end):
    """Figures straight from the tables: the report must agree with them."""
    with engine.connect() as conn:
        fleet = conn.execute(sa.select(agents.c.id, agents.c.department)).all()
        rows = conn.execute(
            sa.select(violations).where(
                violations.c.first_seen < end,
                sa.or_(violations.c.resolved_at.is_(None), violations.c.resolved_at >= start),
            )
        ).all()
    out = {}
    for dept in {d for _, d in fleet}:
        members = {a for a, d in fleet if d == dept}
        counted = [r for r in rows if r.department == dept and r.exception_id is None]
        bad = {r.agent_id for r in counted}
        out[dept] = {
            "targets": len(members),
            "violations": len(counted),
            "unresolved": sum(r.status != "resolved" or r.resolved_at >= end for r in counted),
            "compliance_rate": round((len(members) - len(bad)) / len(members), 4),
        }
    return out, rows


def _report(cli, tmp_path, fmt, *extra, lang="ja"):
    out = tmp_path / f"r.{fmt}"
    code, msg, err = cli.run("report", "--period", "2026-11", "--format", fmt, "--out", str(out), *extra, lang=lang)
    assert code == 0, err
    return out


def test_json_report_matches_the_store(store, tmp_path):
    data = json.loads(_report(store, tmp_path, "json").read_text(encoding="utf-8"))
    p = parse_period("2026-11")
    expected, rows = _expected_by_department(store.engine, p.start, p.end)
    got = {
        r["department"]: {k: r[k] for k in ("targets", "violations", "unresolved", "compliance_rate")}
        for r in data["by_department"]
    }
    assert got == expected
    marks = {r["department"]: r["mark"] for r in data["by_department"]}
    # 企画課's MED-005 was first seen in October and is still open: it is in November's report, uncorrected.
    assert marks == {"市民課": "△", "税務課": "×", "企画課": "×"}
    assert data["total"] == {
        "targets": 5,
        "compliant": 2,
        "compliance_rate": 0.4,
        "violations": 3,
        "unresolved": 2,
        "mark": "×",
    }
    assert (
        sorted(v["rule_id"] for v in data["violations"])
        == sorted(r.rule_id for r in rows)
        == ["MED-002", "MED-005", "NET-001", "SW-001"]
    )
    assert data["period"]["ended"] is True
    sw = next(v for v in data["violations"] if v["rule_id"] == "SW-001")
    assert sw["exception_id"] is not None and sw["status_name"] == "未対応"
    med = next(v for v in data["violations"] if v["rule_id"] == "MED-002")
    assert (med["user"], med["checked_by"], med["status_name"], med["clause"]) == (
        "tanaka",
        "鈴木",
        "是正済",
        "BP6(3)①",
    )
    assert med["occurred_label"].startswith("令和8年11月3日")
    clause = {r["clause"]: r for r in data["by_clause"]}
    # Every terminal: MED-006 (media control in force) enforces BP6(3)① in all segments.
    assert (clause["BP6(3)①"]["targets"], clause["BP6(3)①"]["mark"]) == (5, "△")
    assert (clause["BP6(6)"]["targets"], clause["BP6(6)"]["violations"], clause["BP6(6)"]["mark"]) == (5, 1, "×")
    assert clause["BP3(2)"]["violations"] == 1  # MED-005 only: the excepted SW-001 does not count
    assert [e["rule_id"] for e in data["exceptions"]] == ["SW-001"]
    assert data["period"]["label"] == "令和8年11月1日 – 令和8年11月30日"
    assert sum(w["critical"] + w["medium"] for w in data["weekly"]) == 2
    assert data["device_approvals"] == {"available": True, "items": []}  # no approved device was used
    only = json.loads(_report(store, tmp_path, "json", "--department", "税務課").read_text(encoding="utf-8"))
    assert [r["department"] for r in only["by_department"]] == ["税務課"] and only["total"]["targets"] == 2
    en = json.loads(_report(store, tmp_path, "json", lang="en").read_text(encoding="utf-8"))
    assert en["period"]["label"] == "2026-11-01 – 2026-11-30" and en["title"].startswith("Information")


def test_xlsx_report(store, tmp_path):
    from openpyxl import load_workbook

    data = json.loads(_report(store, tmp_path, "json").read_text(encoding="utf-8"))
    wb = load_workbook(_report(store, tmp_path, "xlsx"))
    assert wb.sheetnames == [
        "概要",
        "所属別集計",
        "条項別集計",
        "系別集計",
        "違反明細",
        "例外措置",
        "使用された許可デバイス",
    ]
    summary, detail = wb["所属別集計"], wb["違反明細"]
    for ws in (summary, detail):
        assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
        assert ws.column_dimensions["A"].width > 8
        assert ws["A2"].font.name == "Yu Gothic"
    header = [c.value for c in summary[1]]
    assert header == ["所属", "対象台数", "適合率", "違反件数", "未是正件数", "結果"]
    rows = {r[0]: r[1:] for r in summary.iter_rows(min_row=2, values_only=True)}
    for r in data["by_department"]:
        assert rows[r["department"]] == (
            r["targets"],
            f"{r['compliance_rate'] * 100:.1f}%",
            r["violations"],
            r["unresolved"],
            r["mark"],
        )
    assert [c.value for c in detail[1]][:3] == ["点検項目ID", "対応条項", "系"]
    assert detail.max_row - 1 == len(data["violations"])
    assert detail.auto_filter.ref == f"A1:N{detail.max_row}"


def test_csv_report_has_a_bom_and_the_same_figures(store, tmp_path):
    raw = _report(store, tmp_path, "csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    sections, current = {}, None
    for row in rows:
        if row and row[0].startswith("# "):
            current = row[0][2:]
            sections[current] = []
        elif row and current:
            sections[current].append(row)
    dept = {r[0]: r[1:] for r in sections["所属別集計"][1:]}
    assert dept["税務課"] == ["2", "50.0%", "1", "1", "×"]
    assert dept["市民課"] == ["2", "50.0%", "1", "0", "△"]
    assert dept["企画課"] == ["1", "0.0%", "1", "1", "×"]
    assert len(sections["違反明細"]) - 1 == 4
    assert rows[0] == ["情報セキュリティ点検結果報告書"]


def _png_is_not_blank(path) -> bool:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width = struct.unpack(">I", chunk[:4])[0]
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return width > 0 and len(set(pixels[: width * 4 * 200])) > 10


def test_html_report_renders_in_headless_chromium(store, tmp_path):
    out = _report(store, tmp_path, "html")
    html = out.read_text(encoding="utf-8")
    assert html.count("<svg") == 3 and "@page { size: A4" in html and "<script" not in html
    assert 'src="http' not in html and 'href="http' not in html  # self-contained
    assert "住民-01" in html and "令和8年11月1日" in html
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is missing: run packaging/dev/bootstrap.sh"
    shot = tmp_path / "report.png"
    pdf = tmp_path / "report.pdf"
    flags = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    subprocess.run(
        [*flags, f"--screenshot={shot}", "--window-size=1240,1754", out.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and _png_is_not_blank(shot)
    subprocess.run(
        [*flags, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", out.as_uri()],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert pdf.read_bytes().startswith(b"%PDF") and b"/MediaBox" in pdf.read_bytes()
    shutil.copy(shot, tmp_path.parent / "report-screenshot.png")


def test_report_errors(cli, tmp_path):
    code, _, err = cli.run("report", "--period", "2026-13", "--format", "json", "--out", str(tmp_path / "x"))
    assert code == 2 and "FY2026" in err
    code, _, err = cli.run("report", "--period", "2026-11", "--format", "json", "--out", "/nonexistent/x.json")
    assert code == 2 and not (tmp_path / "x").exists()


def test_device_approvals_used_in_the_period(cli, tmp_path):
    pc = cli.agent("lgwan", "市民課", "住民-09")
    other = cli.agent("lgwan", "税務課", "税務-09")
    code, out, err = cli.run(
        "devices",
        "approve",
        "--serial",
        "SN-7",
        "--agent",
        pc,
        "--until",
        "2027-01-31T17:00",
        "--reason",
        "住民票の受け渡し",
        "--by",
        "課長",
        "--json",
    )
    assert code == 0, err
    perm = json.loads(out)["id"]
    stick = {"vendor_id": "0781", "product_id": "5567", "product_name": "Cruzer", "serial": "SN-7"}
    for day in (5, 6):
        cli.send(
            pc,
            "usb.allowed",
            {**stick, "decided_by": f"temporary {perm} until 2027-01-31T08:00:00+00:00"},
            at=NOV.replace(day=day),
        )
    cli.send(
        other,
        "usb.allowed",
        {**stick, "serial": "REG-1", "decided_by": "rule 3: allow id 0781:5567"},
        at=NOV.replace(day=7),
    )
    cli.send(other, "usb.allowed", {**stick, "decided_by": "mode:audit"}, at=NOV.replace(day=8))  # no approval
    cli.send(
        pc, "usb.allowed", {**stick, "decided_by": f"temporary {perm} until x"}, at=datetime(2026, 12, 2, tzinfo=UTC)
    )  # outside the period
    data = json.loads(_report(cli, tmp_path, "json").read_text(encoding="utf-8"))
    got = {(a["approval"], a["terminal"]): a for a in data["device_approvals"]["items"]}
    assert set(got) == {(f"temporary {perm}", "住民-09"), ("rule 3: allow id 0781:5567", "税務-09")}
    temp = got[(f"temporary {perm}", "住民-09")]
    assert (temp["uses"], temp["serial"], temp["reason"], temp["approved_by"]) == (
        2,
        "SN-7",
        "住民票の受け渡し",
        "課長",
    )
    assert temp["first_label"].startswith("令和8年11月5日") and temp["device"] == "0781:5567 Cruzer"
    assert got[("rule 3: allow id 0781:5567", "税務-09")]["uses"] == 1
    # The approval cell is in the report's language; the rule itself stays in USBGuard's.
    assert (temp["approval_label"], got[("rule 3: allow id 0781:5567", "税務-09")]["approval_label"]) == (
        f"一時許可 {perm}",
        "台帳の規則 3: allow id 0781:5567",
    )
    only = json.loads(_report(cli, tmp_path, "json", "--department", "税務課").read_text(encoding="utf-8"))
    assert [a["terminal"] for a in only["device_approvals"]["items"]] == ["税務-09"]
    from openpyxl import load_workbook

    wb = load_workbook(_report(cli, tmp_path, "xlsx"))
    sheet = wb["使用された許可デバイス"]
    assert sheet.max_row == 3 and sheet["E2"].value + sheet["E3"].value == 3


def test_agent_text_never_becomes_a_spreadsheet_formula(cli, tmp_path):
    from openpyxl import load_workbook

    evil = '=HYPERLINK("http://127.0.0.1/x","click")'
    a = cli.agent("mynumber", "市民課", evil)
    cli.send(a, "media.write", {"path": "+cmd|' /C calc'!A0", "user": "@SUM(1+1)"}, at=NOV.replace(day=5))
    cli.now = datetime(2026, 12, 5, tzinfo=UTC)
    wb = load_workbook(_report(cli, tmp_path, "xlsx"))
    cells = [c for row in wb["違反明細"].iter_rows() for c in row]
    host = [c for c in cells if c.value == evil]
    assert host and all(c.data_type == "s" for c in host)
    assert not [c for c in cells if c.data_type == "f"]
    text = _report(cli, tmp_path, "csv").read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    flat = [v for r in rows for v in r]
    assert "'" + evil in flat and "'@SUM(1+1)" in flat
    assert not [v for v in flat if v.startswith(("=", "+", "@"))]


def test_a_violation_corrected_after_the_period_was_uncorrected_at_its_end(store, tmp_path):
    ids = {v["rule_id"]: v["id"] for v in store.json("violations", "list")}
    assert store.run("violations", "resolve", str(ids["NET-001"]), "--by", "鈴木", "--note", "有効化")[0] == 0
    data = json.loads(_report(store, tmp_path, "json").read_text(encoding="utf-8"))
    net = next(v for v in data["violations"] if v["rule_id"] == "NET-001")
    assert net["status"] == "resolved"  # resolved on 2026-12-05, after November
    assert {r["department"]: r["unresolved"] for r in data["by_department"]}["税務課"] == 1
    assert {r["department"]: r["mark"] for r in data["by_department"]}["税務課"] == "×"


def test_an_unfinished_period_says_so_and_a_future_one_is_refused(store, tmp_path):
    store.now = datetime(2026, 11, 25, tzinfo=UTC)
    data = json.loads(_report(store, tmp_path, "json").read_text(encoding="utf-8"))
    assert data["period"]["ended"] is False and "期間終了前" in data["period"]["label"]
    code, _, err = store.run("report", "--period", "2026-12", "--format", "json", "--out", str(tmp_path / "f.json"))
    assert code != 0 and "始まっていません" in err and not (tmp_path / "f.json").exists()


def test_exceptions_in_the_report_carry_their_state(store, tmp_path):
    from openpyxl import load_workbook

    a = store.agent("lgwan", "税務課", "税務-03")
    store.now = datetime(2026, 11, 22, tzinfo=UTC)
    assert (
        store.run(
            "exceptions",
            "add",
            "--agent",
            a,
            "--rule",
            "NET-001",
            "--until",
            "2027-03-31",
            "--reason",
            "検証",
            "--approved-by",
            "課長",
        )[0]
        == 0
    )
    store.now = datetime(2026, 11, 25, tzinfo=UTC)
    revoked = store.json("exceptions", "list")[0]["id"]
    assert store.run("exceptions", "revoke", str(revoked), "--note", "不要")[0] == 0
    store.now = datetime(2026, 12, 5, tzinfo=UTC)
    data = json.loads(_report(store, tmp_path, "json").read_text(encoding="utf-8"))
    states = {e["rule_id"]: (e["state"], e["state_name"]) for e in data["exceptions"]}
    assert states == {"SW-001": ("active", "有効"), "NET-001": ("revoked", "取消")}
    ws = load_workbook(_report(store, tmp_path, "xlsx"))["例外措置"]
    assert "状態" in [c.value for c in ws[1]] and {"有効", "取消"} <= {c.value for row in ws.iter_rows() for c in row}
    # A December report no longer lists the exception revoked in November.
    store.now = datetime(2027, 1, 5, tzinfo=UTC)
    code, _, err = store.run("report", "--period", "2026-12", "--format", "json", "--out", str(tmp_path / "d.json"))
    assert code == 0, err
    dec = json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))
    assert [e["rule_id"] for e in dec["exceptions"]] == ["SW-001"]
