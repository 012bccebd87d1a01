"""mountinfo parsing, removable-mount detection and the media.write export log on a real inotify watch."""

from __future__ import annotations

import hashlib
import time

from agent.host.linux.medialog import MediaLog
from agent.host.linux.mounts import Mount, MountTable, RemovableMount, parse_mountinfo
from mamori import events

MOUNTINFO = """\
22 28 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
28 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
95 28 8:17 / /media/taro/USB\\040STICK rw,nosuid,nodev,relatime shared:50 - vfat /dev/sdb1 rw,uid=1000,fmask=0022
96 28 8:32 / /media/ro ro,relatime shared:51 - ext4 /dev/sdc ro
garbage line without separator
97 28 0:50 / /mnt/share rw - cifs //server/share rw
"""


def test_parse_mountinfo():
    mounts = parse_mountinfo(MOUNTINFO)
    assert [m.mount_point for m in mounts] == ["/proc", "/", "/media/taro/USB STICK", "/media/ro", "/mnt/share"]
    stick = mounts[2]
    assert stick.source == "/dev/sdb1" and stick.fstype == "vfat" and not stick.read_only
    assert mounts[3].read_only


def test_removable_by_usb_ancestor_or_flag(tmp_path):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mountinfo").write_text(MOUNTINFO)
    usb = tmp_path / "sys/devices/pci0000:00/usb1/1-1"
    disk = usb / "1-1:1.0/host0/target0:0:0/0:0:0:0/block/sdb"
    (disk / "sdb1").mkdir(parents=True)
    (disk / "sdb1/partition").write_text("1")
    (usb / "idVendor").write_text("0781")
    (usb / "serial").write_text("SER-9\n")
    internal = tmp_path / "sys/devices/pci0000:00/ata1/block/vda"
    (internal / "vda1").mkdir(parents=True)
    (internal / "vda1/partition").write_text("1")
    (internal / "removable").write_text("0")
    card = tmp_path / "sys/devices/pci0000:00/mmc0/block/sdc"
    card.mkdir(parents=True)
    (card / "removable").write_text("1\n")
    klass = tmp_path / "sys/class/block"
    klass.mkdir(parents=True)
    for link, target in (("sdb1", disk / "sdb1"), ("vda1", internal / "vda1"), ("sdc", card)):
        (klass / link).symlink_to(target)
    found = MountTable(tmp_path).removable()
    assert [(r.mount.mount_point, r.device_serial, r.usb_port) for r in found] == [
        ("/media/taro/USB STICK", "SER-9", "1-1"),
        ("/media/ro", "", ""),
    ]


class _Mounts:
    def __init__(self, mounts):
        self.list = mounts

    def removable(self):
        return self.list


def test_media_write_events_with_sha256(tmp_path):
    point = tmp_path / "stick"
    point.mkdir()
    emitted: list[tuple[str, dict]] = []
    source = _Mounts([RemovableMount(Mount(str(point), "/dev/sdb1", "vfat", ("rw",)), "SER-9", "1-1")])
    media = MediaLog(source, lambda k, p: emitted.append((k, p)))
    media.start()
    try:
        assert media.watched() == [str(point)]
        data = "住民票 2026\n".encode() * 1000
        (point / "sub").mkdir()
        (point / "sub" / "a.txt").write_bytes(data)
        deadline = time.monotonic() + 10
        while not emitted and time.monotonic() < deadline:
            time.sleep(0.05)
        kind, body = emitted[0]
        assert kind == "media.write"
        assert body["path"] == str(point / "sub" / "a.txt") and body["size"] == len(data)
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["device_serial"] == "SER-9" and body["mount_point"] == str(point) and body["user"]
        events.encode(kind, body, seq=1)
        time.sleep(1.5)  # past the quiet period: one write, one event
        assert len([b for _, b in emitted if b["path"] == body["path"]]) == 1
        source.list = []
        media.refresh()
        assert media.watched() == []
    finally:
        media.stop()


def test_read_only_mounts_are_not_watched(tmp_path):
    source = _Mounts([RemovableMount(Mount(str(tmp_path), "/dev/sdc", "ext4", ("ro",)), "", "")])
    media = MediaLog(source, lambda k, p: None)
    media.start()
    try:
        assert media.watched() == []
    finally:
        media.stop()


def test_unreadable_file_still_recorded(tmp_path):
    emitted: list[tuple[str, dict]] = []
    MediaLog(_Mounts([]), lambda k, p: emitted.append((k, p))).record(str(tmp_path / "gone"), str(tmp_path), "S")
    assert emitted[0][1]["sha256"] == "" and emitted[0][1]["size"] == 0


def test_files_written_between_mount_and_watch_are_recorded(tmp_path):
    point = tmp_path / "stick"
    point.mkdir()
    (point / "old.txt").write_text("before")  # on the stick already: its ctime is older than the last look
    emitted: list[tuple[str, dict]] = []
    source = _Mounts([])
    media = MediaLog(source, lambda k, p: emitted.append((k, p)))
    media.start()
    try:
        time.sleep(1.2)  # past the scan's slack, so old.txt is older than the mount
        media.refresh()  # the last look without the stick
        # `mount /dev/sdb1 /media/stick && cp ...` in one command: written before any watch exists.
        (point / "out").mkdir()
        for n in range(5):
            (point / "out" / f"f{n}.csv").write_text(f"氏名,{n}\n")
        source.list = [RemovableMount(Mount(str(point), "/dev/sdb1", "vfat", ("rw",)), "SER-9", "1-1")]
        media.refresh()
        deadline = time.monotonic() + 10
        while len(emitted) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)
        paths = sorted(b["path"] for _, b in emitted)
        assert paths == [str(point / "out" / f"f{n}.csv") for n in range(5)]
        assert all(b["sha256"] and b["device_serial"] == "SER-9" for _, b in emitted)
    finally:
        media.stop()


class _Disks(_Mounts):
    def __init__(self, disks):
        super().__init__([])
        self.disks = disks

    def removable_disks(self):
        return self.disks


def test_raw_write_to_a_watched_device_node_is_a_media_write(tmp_path):
    from agent.host.linux.mounts import RemovableDisk

    node = tmp_path / "sdz"  # a regular file stands in for the node: inotify treats both alike
    node.write_bytes(b"\0" * 4096)
    emitted: list[tuple[str, dict]] = []
    media = MediaLog(_Disks([RemovableDisk(str(node), "SER-RAW", "1-4")]), lambda k, p: emitted.append((k, p)))
    media.start()
    try:
        with open(node, "rb") as handle:  # reading is no write
            handle.read(512)
        with open(node, "r+b") as handle:
            handle.write(b"\1" * 512)
        deadline = time.monotonic() + 10
        while not emitted and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert [(k, b["path"], b["device_serial"]) for k, b in emitted] == [("media.write", str(node), "SER-RAW")]
        events.encode(*emitted[0], seq=1)
    finally:
        media.stop()
