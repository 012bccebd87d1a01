"""`mamori-collector devices import|approve|revoke|list|seen`: the approved-device register, 一時許可, seen devices."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from collector import display
from collector.cli.common import (
    CliError,
    actor,
    engine,
    find_agent,
    iso,
    known_department,
    local,
    parse_until,
    print_json,
)
from collector.config import DataDir
from mamori import clock
from mamori.i18n import _
from mamori.labels import names
from mamori.policy import SEGMENTS
from mamori.safetext import safe
from mamori.table import render
from mamori.usbrules import RuleErrors, parse_rules

MAX_FILE = 4 * 1024 * 1024
SEEN_DAYS_MAX = 366  # how far back `devices seen` and a device reference look


def cmd_import(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import audit, devices

    path = Path(args.file)
    try:
        raw = path.read_bytes()[: MAX_FILE + 1]
        text = raw.decode("utf-8")
    except OSError as exc:
        raise CliError(_("cannot read {file}: {error}").format(file=path, error=exc.strerror or exc)) from None
    except UnicodeDecodeError:
        raise CliError(_("{file} is not UTF-8 text; save it as UTF-8 and import again").format(file=path)) from None
    if len(raw) > MAX_FILE:
        raise CliError(_("{file} is larger than 4 MiB; is it really a rules file?").format(file=path))
    try:
        rules = parse_rules(text)
    except RuleErrors as exc:
        for err in exc.errors:
            print(_("{file}:{line}: {reason}").format(file=path, line=err.line, reason=err.reason), file=sys.stderr)
        raise CliError(
            _("{count} bad rule(s) in {file}; nothing was imported. Fix the lines above and import again.").format(
                count=len(exc.errors), file=path
            )
        ) from None
    if not rules:
        raise CliError(_("{file} contains no rules; nothing was imported").format(file=path))
    now = clock.now()
    with engine(datadir).begin() as conn:  # the register change and its audit entry commit together
        count = devices.import_rules(
            conn,
            [(r.line, r.text) for r in rules],
            source=path.name,
            segment=args.segment,
            department=args.department,
            replace=args.replace,
            by=actor(args),
            at=now,
        )
        audit.record(
            conn,
            at=now,
            actor=actor(args),
            action="devices.import",
            target=f"file:{path.name}",
            details={"rules": count, "segment": args.segment, "department": args.department, "replace": args.replace},
        )
    if args.json:
        print_json(
            {
                "imported": count,
                "source": path.name,
                "segment": args.segment,
                "department": args.department,
                "replaced": args.replace,
            }
        )
    else:
        print(
            _("Imported {count} rule(s) from {file} into the approved-device register.").format(
                count=count, file=path.name
            )
        )
    return 0


def _force_reason(db: Any, agent: Any, department: str | None, segment: str | None) -> str | None:
    """Why an approval needs --force: it is for a revoked terminal, or it reaches マイナンバー利用事務系 terminals."""
    from collector.store import queries

    if agent is not None and agent.revoked:
        return _(
            "terminal {host} ({id}) is revoked and no longer connects, so approving a device for it is a "
            "mistake or a leftover."
        ).format(host=safe(agent.hostname), id=agent.id[:8])
    targets = (
        [agent]
        if agent is not None
        else [
            a
            for a in queries.list_agents(db)
            if not a.revoked and department in (None, a.department) and segment in (None, a.segment)
        ]
    )
    mine = [a for a in targets if a.segment == "mynumber"]
    if not mine:
        return None
    return _(
        "this approval reaches {count} マイナンバー利用事務系 terminal(s) ({hosts}), where data must not leave on "
        "removable media (BP6(3)①)."
    ).format(count=len(mine), hosts=", ".join(safe(a.hostname) for a in mine[:5]))


def _find_seen(db: Any, ref: str) -> Any:
    from collector import devices_seen
    from collector.store import devices

    seen = devices_seen.collect(devices.usb_events(db, clock.now() - timedelta(days=SEEN_DAYS_MAX)))
    try:
        found = devices_seen.find(seen, ref)
    except devices_seen.AmbiguousRef:
        raise CliError(_("{ref} matches several devices; give more of the reference").format(ref=safe(ref))) from None
    if found is None:
        raise CliError(_("no device {ref} was seen; see `mamori-collector devices seen`").format(ref=safe(ref)))
    return found


def cmd_approve(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import audit, devices

    db = engine(datadir)
    if args.device and args.serial:
        raise CliError(_("give a device reference or --serial, not both"))
    if not args.device and not args.serial:
        raise CliError(_("give a device reference from `mamori-collector devices seen`, or --serial"))
    seen = _find_seen(db, args.device) if args.device else None
    if not args.reason.strip():
        raise CliError(_("--reason must not be empty: record why the device is needed"))
    agent = find_agent(db, args.agent) if args.agent else None
    known_department(db, args.department)  # a misspelt 所属 would grant a permission that reaches no terminal
    why = _force_reason(db, agent, args.department, args.segment)
    if why and not args.force:
        raise CliError(why + " " + _("Add --force to approve anyway."))
    now = clock.now()
    if seen is not None and args.until is None:
        return _approve_in_register(args, db, seen, now, forced=bool(why))
    if args.until is None:
        raise CliError(_("--until is required for a temporary permission (一時許可)"))
    if args.segment:
        raise CliError(
            _("a temporary permission is for one terminal (--agent) or a 所属 (--department), not a segment")
        )
    serial = seen.serial if seen is not None else args.serial.strip()
    if seen is not None and not serial:
        raise CliError(
            _(
                "device {ref} has no serial number, so a temporary permission cannot name it; approve it "
                "in the register (leave out --until)"
            ).format(ref=seen.ref)
        )
    if not serial or len(serial) > 256:
        raise CliError(_("--serial must be 1 to 256 characters"))
    until = parse_until(args.until).astimezone(UTC)
    if until <= now:
        raise CliError(_("--until {value} is in the past").format(value=display.stamp(until)))
    agent_id = agent.id if agent is not None else None
    with db.begin() as conn:
        perm_id = devices.add_temporary(
            conn,
            serial=serial,
            agent_id=agent_id,
            department=args.department,
            until=until,
            reason=args.reason.strip()[:1000],
            by=actor(args),
            at=now,
        )
        details = {
            "serial": serial,
            "agent_id": agent_id,
            "department": args.department,
            "until": iso(until),
            "reason": args.reason.strip()[:1000],
        }
        if seen is not None:
            details["device"] = seen.ref
        if why:
            details["forced"] = why
        audit.record(
            conn, at=now, actor=actor(args), action="devices.approve", target=f"permission:{perm_id}", details=details
        )
    if args.json:
        print_json(
            {
                "id": perm_id,
                "serial": serial,
                "agent_id": agent_id,
                "department": args.department,
                "until": iso(until),
                "device": seen.ref if seen is not None else None,
                "forced": bool(why),
            }
        )
    else:
        scope = agent_id or args.department or _("all terminals")
        print(
            _(
                "Temporary permission {id} for serial {serial} on {scope} until {until}. It reaches the terminal "
                "with its next heartbeat and expires there by itself."
            ).format(id=perm_id, serial=safe(serial), scope=scope, until=display.stamp(until))
        )
    return 0


def _approve_in_register(args: argparse.Namespace, db: Any, seen: Any, now: datetime, forced: bool) -> int:
    """A seen device approved for good: its rule line joins the register for the chosen scope."""
    from collector.store import audit, devices

    if args.agent:
        raise CliError(_("the register is kept per segment or 所属; for one terminal give --until (一時許可)"))
    with db.begin() as conn:
        devices.import_rules(
            conn,
            [(0, seen.rule)],
            source=f"device {seen.ref}",
            segment=args.segment,
            department=args.department,
            replace=False,
            by=actor(args),
            at=now,
        )
        audit.record(
            conn,
            at=now,
            actor=actor(args),
            action="devices.approve",
            target=f"device:{seen.ref}",
            details={
                "rule": seen.rule,
                "segment": args.segment,
                "department": args.department,
                "reason": args.reason.strip()[:1000],
                "forced": forced,
            },
        )
    if args.json:
        print_json(
            {
                "device": seen.ref,
                "rule": seen.rule,
                "segment": args.segment,
                "department": args.department,
                "forced": forced,
            }
        )
    else:
        print(_("Device {ref} added to the approved-device register: {rule}").format(ref=seen.ref, rule=seen.rule))
    return 0


def cmd_revoke(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import audit, devices, queries

    db = engine(datadir)
    now = clock.now()
    if args.rule is not None:
        with db.begin() as conn:
            if not devices.delete_rule(conn, args.rule):
                raise CliError(_("no register rule {id}; see `mamori-collector devices list`").format(id=args.rule))
            audit.record(conn, at=now, actor=actor(args), action="devices.revoke", target=f"rule:{args.rule}")
        print(_("Removed rule {id} from the approved-device register.").format(id=args.rule))
        return 0
    if not args.id:
        raise CliError(_("give a temporary permission ID, or --rule N for a register rule"))
    try:
        perm = devices.find_temporary(db, args.id)
    except queries.AmbiguousId:
        raise CliError(
            _("{id} matches several temporary permissions; give more of the ID").format(id=args.id)
        ) from None
    if perm is None:
        raise CliError(_("no temporary permission {id}; see `mamori-collector devices list`").format(id=args.id))
    with db.begin() as conn:
        if not devices.revoke_temporary(conn, perm.id, by=actor(args), at=now):
            raise CliError(_("temporary permission {id} is already revoked").format(id=perm.id))
        audit.record(
            conn,
            at=now,
            actor=actor(args),
            action="devices.revoke",
            target=f"permission:{perm.id}",
            details={"serial": perm.serial},
        )
    print(_("Revoked temporary permission {id} (serial {serial}).").format(id=perm.id, serial=perm.serial))
    return 0


def _temp_status(t: Any, now: datetime) -> str:
    if t.revoked_at is not None:
        return "revoked"
    return "active" if t.active(now) else "expired"


def cmd_list(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector.store import devices, queries

    db = engine(datadir)
    now = clock.now()
    rules, temps = devices.list_rules(db), devices.list_temporary(db)
    if known_department(db, args.department):
        # What is scoped to that 所属: its register rules, its permissions and those of its terminals.
        mine = {a.id for a in queries.list_agents(db) if a.department == args.department}
        rules = [r for r in rules if r.department == args.department]
        temps = [t for t in temps if t.department == args.department or t.agent_id in mine]
    if args.json:
        print_json(
            {
                "rules": [
                    {
                        "id": r.id,
                        "rule": r.rule,
                        "segment": r.segment,
                        "department": r.department,
                        "source": r.source,
                        "source_line": r.source_line,
                        "created_at": iso(r.created_at),
                        "created_by": r.created_by,
                    }
                    for r in rules
                ],
                "temporary": [
                    {
                        "id": t.id,
                        "serial": t.serial,
                        "agent_id": t.agent_id,
                        "department": t.department,
                        "until": iso(t.until),
                        "reason": t.reason,
                        "created_at": iso(t.created_at),
                        "created_by": t.created_by,
                        "revoked_at": iso(t.revoked_at),
                        "revoked_by": t.revoked_by,
                        "status": _temp_status(t, now),
                    }
                    for t in temps
                ],
            }
        )
        return 0
    labels = names("permission")
    print(_("Approved-device register"))
    if rules:
        print(
            render(
                [_("No."), _("Scope"), _("Rule")],
                [[str(r.id), r.department or r.segment or _("all"), r.rule] for r in rules],
                [5, 12, 59],
            )
        )
    else:
        print(_("(empty: import a USBGuard rules file with `mamori-collector devices import FILE`)"))
    print()
    print(_("Temporary permissions"))
    if temps:
        print(
            render(
                [_("ID"), _("Serial"), _("Scope"), display.header(_("Until")), _("Status")],
                [
                    [
                        t.id[:8],
                        t.serial,
                        (t.agent_id or "")[:8] or t.department or _("all"),
                        local(t.until),
                        labels[_temp_status(t, now)],
                    ]
                    for t in temps
                ],
                [8, 20, 12, 25, 8],
            )
        )
    else:
        print(_("(none)"))
    return 0


def cmd_seen(args: argparse.Namespace, datadir: DataDir) -> int:
    from collector import devices_seen
    from collector.store import devices, queries

    db = engine(datadir)
    if not 1 <= args.days <= SEEN_DAYS_MAX:
        raise CliError(_("--days must be 1 to {max}").format(max=SEEN_DAYS_MAX))
    rows = devices.usb_events(db, clock.now() - timedelta(days=args.days))
    agents = {a.id: a for a in queries.list_agents(db)}
    if known_department(db, args.department):
        rows = [r for r in rows if r[0] in agents and agents[r[0]].department == args.department]
    seen = devices_seen.collect(rows)

    def host(agent_id: str) -> str:
        return agents[agent_id].hostname if agent_id in agents else agent_id[:8]

    if args.json:
        print_json(
            [
                {
                    "ref": d.ref,
                    "vendor_id": d.vendor_id,
                    "product_id": d.product_id,
                    "name": d.name,
                    "serial": d.serial,
                    "rule": d.rule,
                    "count": d.count,
                    "last_seen": iso(d.last_seen),
                    "last_kind": d.last_kind,
                    "last_decided_by": d.last_decided_by,
                    "terminals": [
                        {"agent_id": a, "hostname": host(a), "segment": agents[a].segment if a in agents else None}
                        for a in d.agents
                    ],
                }
                for d in seen
            ]
        )
        return 0
    if not seen:
        print(_("No USB device was seen in the last {days} day(s).").format(days=args.days))
        return 0
    labels = {"usb.blocked": _("blocked"), "usb.allowed": _("allowed")}
    print(
        render(
            [_("Ref"), _("Device"), _("Serial"), _("Terminals"), display.header(_("Last seen")), _("Last")],
            [
                [
                    d.ref,
                    safe(f"{d.vendor_id}:{d.product_id} {d.name}"),
                    safe(d.serial),
                    ", ".join(safe(host(a)) for a in d.agents[:3]) + (" …" if len(d.agents) > 3 else ""),
                    local(d.last_seen),
                    labels.get(d.last_kind, d.last_kind),
                ]
                for d in seen
            ],
            [12, 30, 20, 20, 25, 8],
        )
    )
    print()
    print(_("Rules to approve them (`mamori-collector devices approve REF --reason ...`):"))
    for d in seen:
        print(f"{d.ref}  {d.rule}")
    return 0


def register(sub, common: argparse.ArgumentParser) -> None:
    dev = sub.add_parser(
        "devices", parents=[common], help=_("approved devices and temporary permissions")
    ).add_subparsers(dest="action", required=True)
    p = dev.add_parser("import", parents=[common], help=_("import a USBGuard rules file into the register"))
    p.add_argument("file")
    p.add_argument("--segment", choices=SEGMENTS, help=_("only for terminals of this segment"))
    p.add_argument("--department", help=_("only for terminals of this department (所属)"))
    p.add_argument("--replace", action="store_true", help=_("replace the rules of the same scope"))
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_import)
    p = dev.add_parser(
        "approve",
        parents=[common],
        help=_(
            "approve a device: a temporary permission (一時許可) or, for a seen device without --until, a register rule"
        ),
    )
    p.add_argument("device", nargs="?", help=_("a device reference from `mamori-collector devices seen`"))
    p.add_argument("--serial", help=_("the device's serial number"))
    scope = p.add_mutually_exclusive_group()
    scope.add_argument("--agent", help=_("only on this terminal (agent ID)"))
    scope.add_argument("--department", help=_("on every terminal of this department (所属)"))
    scope.add_argument("--segment", choices=SEGMENTS, help=_("register rule: only for terminals of this segment"))
    p.add_argument(
        "--until", help=_("end of the permission: a date (through that day) or a date and time, e.g. 2026-04-01T17:00")
    )
    p.add_argument("--reason", required=True, help=_("why the device is needed"))
    p.add_argument(
        "--force",
        action="store_true",
        help=_("approve even for a revoked terminal or one of the マイナンバー利用事務系"),
    )
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_approve)
    p = dev.add_parser("revoke", parents=[common], help=_("revoke a temporary permission or remove a rule"))
    p.add_argument("id", nargs="?")
    p.add_argument("--rule", type=int, help=_("remove this register rule (No. in `devices list`)"))
    p.add_argument("--by", help=_("name of the staff member (default: login name)"))
    p.set_defaults(func=cmd_revoke)
    p = dev.add_parser("list", parents=[common], help=_("list the register and temporary permissions"))
    p.add_argument("--department", help=_("only what is scoped to this department (所属) or its terminals"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = dev.add_parser(
        "seen",
        parents=[common],
        help=_("devices seen on terminals (usb.blocked / usb.allowed) and the rule to approve each"),
    )
    p.add_argument("--days", type=int, default=90, help=_("look back this many days (default 90)"))
    p.add_argument("--department", help=_("only devices seen on terminals of this department (所属)"))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_seen)
