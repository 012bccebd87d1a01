"""Render the packaged files that come from code: the agent's unit and both default configs.

`python packaging/render.py` rewrites them; `--check` fails when a committed file differs (tests run it).
The configs come from the schemas in agent/config.py and collector/config.py, the unit from
agent/host/linux/systemd.py (the same renderer `mamori-agent service install` uses).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from agent import config as agent_config  # noqa: E402
from agent.host.linux import early as linux_early  # noqa: E402
from agent.host.linux import systemd  # noqa: E402
from collector import config as collector_config  # noqa: E402

AGENT_PREFIX = Path("/opt/mamori/agent")
AGENT_STATE = Path("/var/lib/mamori-agent")
AGENT_CONFIG = Path("/etc/mamori/agent.toml")
COLLECTOR_PREFIX = Path("/opt/mamori/collector")


def agent_unit() -> str:
    head = (
        "# Mamori endpoint agent, as shipped by the mamori-agent .deb.\n"
        "# Rendered by packaging/render.py from agent/host/linux/systemd.py: edit that, not this file.\n"
    )
    argv = [
        str(AGENT_PREFIX / "bin/mamori-agent"),
        "run",
        "--state-dir",
        str(AGENT_STATE),
        "--config",
        str(AGENT_CONFIG),
    ]
    return head + systemd.render_unit(argv, AGENT_STATE)


def files() -> dict[Path, str]:
    return {
        HERE / "linux/mamori-agent.service": agent_unit(),
        HERE / f"linux/{linux_early.UDEV_NAME}": linux_early.UDEV_RULE,
        HERE / f"linux/{linux_early.MODPROBE_NAME}": linux_early.MODPROBE_CONF,
        HERE / "config/agent.toml": agent_config.render_config(),
        HERE / "config/collector.toml": collector_config.render_config({}),
    }


def main(argv: list[str]) -> int:
    stale = []
    for path, text in files().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if "--check" in argv:
            stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent)}")
    for path in stale:
        print(f"{path.relative_to(HERE.parent)} is out of date: run python packaging/render.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
