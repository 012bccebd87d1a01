"""What the per-platform readers report to the checks: typed facts, the same shape on every OS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class TimeSyncFacts:
    """The clock's synchronisation as the OS's time service reports it (None: that service does not say)."""

    service: str = ""  # chrony | systemd-timesyncd | w32time | none; "" when no service answered
    synchronised: bool = False
    offset_seconds: float | None = None
    ntp_enabled: bool | None = None
    reference: str | None = None
    stratum: str | None = None
    leap: str | None = None
    source: str | None = None
    last_sync: str | None = None
    tried: tuple[str, ...] = ()  # why each service that was tried gave no answer
    unavailable: str = ""  # the platform has no data source at all (the verdict is not_applicable)
    error: str = ""  # asking the service failed (the verdict is error)


@dataclass(frozen=True)
class InputChain:
    """An nftables chain on the input hook, and whether it denies what no rule accepted."""

    family: str
    table: str
    chain: str
    policy: str
    ends_in_deny: bool
    filtering: bool


@dataclass(frozen=True)
class FirewallProfile:
    """One Windows Firewall profile (domain, private, public) as the registry sets it."""

    enabled: bool
    inbound_allowed: bool
    set_by: str  # "policy" (GPO) or "local"


@dataclass(frozen=True)
class FirewallFacts:
    """The host firewall for incoming traffic: nftables input chains on Linux, profiles on Windows."""

    source: str = ""  # "nft -j list ruleset" or "registry"; "" when nothing could be read
    nft_missing: bool = False
    input_chains: tuple[InputChain, ...] = ()
    filtered: tuple[str, ...] = ()  # address families denied by default
    ufw_enabled: bool | None = None
    firewalld_installed: bool | None = None
    profiles: tuple[tuple[str, FirewallProfile], ...] = ()
    unavailable: str = ""
    error: str = ""  # "read", "nft" or "output": which step failed
    detail: str = ""  # the failure's own words


@dataclass(frozen=True)
class OsReleaseFacts:
    """The operating system's release as the OS itself names it: os-release on Linux, the CurrentVersion key
    on Windows. `problem` says why it could not be identified (the verdict is error)."""

    family: str = ""  # "linux" (the table is keyed by os-release ID) or "windows" (keyed by build)
    os_id: str = ""  # os-release ID ("debian", "rhel", ...); "" on Windows
    version: str = ""  # os-release VERSION_ID, or the Windows CurrentBuild
    label: str = ""  # what staff see: PRETTY_NAME, or product name, display version, build and edition
    edition: str = ""  # Windows EditionID (LTSC and Enterprise have their own support periods)
    problem: str = ""


@dataclass(frozen=True)
class SoftwareFacts:
    """The installed packages as (name, version), from the package database the OS keeps."""

    source: str = ""  # "dpkg", "rpm" or "registry Uninstall keys"
    packages: tuple[tuple[str, str], ...] = ()
    unavailable: str = ""
    missing: str = ""  # no package database to read (the verdict is not_applicable)
    error: str = ""  # reading it failed (the verdict is error)


@dataclass
class Setting:
    """One GSettings key as the system imposes it: its value, the file that set it, and whether a dconf lock
    keeps staff from changing it."""

    value: str
    source: str
    locked: bool = False


@dataclass
class GnomeLock:
    settings: dict[str, Setting] = field(default_factory=dict)  # "schema/key" -> value
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScreenLockFacts:
    """The desktops' screen-lock settings (GNOME, KDE) on Linux; the machine inactivity limit on Windows."""

    root: str = ""  # the tree the Linux reader looked at (shown when there is no desktop)
    gnome: GnomeLock | None = None  # None: GNOME is not installed
    kde: dict[str, object] | None = None  # kscreenlockerrc's [Daemon] keys; None: no kscreenlockerrc
    inactivity_key: str = ""  # Windows: the policy key read; "" on Linux
    inactivity_seconds: object = None  # Windows: InactivityTimeoutSecs as the registry holds it (None: not set)
    unavailable: str = ""


@dataclass(frozen=True)
class DeviceLayer:
    """One block device in the chain below a mount point (`lsblk -s`): a partition, an LVM volume, a crypt."""

    name: str | None
    type: str | None
    fstype: str | None


@dataclass(frozen=True)
class DiskEncryptionFacts:
    """What the system and home file systems sit on: lsblk device chains on Linux, BitLocker volumes on Windows."""

    source: str = ""  # "lsblk -J -s" or "Get-BitLockerVolume"
    laptop: bool = False  # SMBIOS chassis type says portable (an unencrypted laptop is high severity)
    # mount point -> every chain from the file system down to a disk (several when LVM or RAID spans disks)
    mounts: tuple[tuple[str, tuple[tuple[DeviceLayer, ...], ...]], ...] = ()
    volumes: tuple[dict[str, object], ...] = ()  # Windows: Get-BitLockerVolume's objects as recorded
    unavailable: str = ""
    error: str = ""  # "missing" (no lsblk), "read", "tool" or "query": which step failed
    detail: str = ""


@dataclass(frozen=True)
class SignatureDatabase:
    """One ClamAV signature database file and when its header says it was built (None: unreadable header)."""

    name: str
    built: datetime | None


@dataclass(frozen=True)
class AntivirusFacts:
    """The anti-malware product: ClamAV's programs, processes and databases on Linux, Defender's status on Windows."""

    product: str = ""  # "ClamAV" or "Microsoft Defender"; "" when none is installed
    root: str = ""  # the tree the Linux reader looked at
    clamd_installed: bool = False
    clamonacc_installed: bool = False
    running: tuple[str, ...] = ()  # which of clamd, clamonacc, freshclam run now
    databases: tuple[SignatureDatabase, ...] = ()
    database_dir: str = ""
    defender: dict[str, object] | None = None  # Windows: Get-MpComputerStatus as the data source returned it
    unavailable: str = ""
    error: str = ""  # "query": asking Defender failed; "status": it returned no status
    detail: str = ""


@dataclass(frozen=True)
class Account:
    """One local account as the account database lists it (uid and gid as written, which may be junk)."""

    name: str
    uid: str
    gid: str
    shell: str


@dataclass(frozen=True)
class Group:
    name: str
    gid: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class LocalAdminFacts:
    """Who may administer the machine: accounts, groups and sudoers grants on Linux; the Administrators group's
    members on Windows."""

    source: str = ""  # "accounts" (Linux files) or "Get-LocalGroupMember S-1-5-32-544"
    accounts: tuple[Account, ...] = ()
    groups: tuple[Group, ...] = ()
    uid_min: int = 1000  # login.defs: the range of ordinary (staff) accounts
    uid_max: int = 60000
    sudo_users: tuple[str, ...] = ()  # granted ALL directly in sudoers
    sudo_groups: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()  # the files read, as evidence
    problems: tuple[str, ...] = ()  # sudoers files that exist but could not be read
    members: tuple[object, ...] = ()  # Windows: Get-LocalGroupMember's objects as the data source returned them
    unavailable: str = ""
    error: str = ""  # the account database (or Administrators) could not be read


@dataclass(frozen=True)
class PendingUpdate:
    """One pending security update as the update source names and dates it."""

    name: str  # apt: the package; dnf: the advisory id; Windows: KB number or title
    installed: str = ""  # apt
    candidate: str = ""  # apt
    origins: tuple[str, ...] = ()  # apt: "Debian-Security:12/stable-security"
    title: str = ""  # dnf, Windows
    severity: str = ""  # dnf, Windows: Critical / Important / ...
    published: datetime | None = None  # apt: earliest Release date offering it; dnf: issued; Windows: released


@dataclass(frozen=True)
class UpdateSource:
    """One downloaded apt Release/InRelease file: which suite, dated when, fetched when."""

    file: str
    origin: str
    suite: str
    date: datetime | None
    fetched: datetime
    security: bool


@dataclass(frozen=True)
class PatchFacts:
    """The update state: pending security updates, when the source was refreshed, whether a reboot waits."""

    backend: str = ""  # "apt", "dnf" or "windows_update"; "" when there is no package manager
    root: str = ""
    security: tuple[PendingUpdate, ...] = ()
    pending_total: int = 0
    sources: tuple[UpdateSource, ...] = ()  # apt
    refreshed: datetime | None = None  # apt lists, dnf metadata, Windows' last successful search
    last_upgrade: datetime | None = None  # apt
    last_upgrade_packages: int = 0  # apt
    last_install: datetime | None = None  # Windows
    server: str = ""  # Windows: the WSUS server ("" for Microsoft Update)
    reboot_required: bool | None = None
    reboot_required_since: datetime | None = None  # apt: reboot-required's time
    reboot_packages: tuple[str, ...] = ()  # apt
    problems: tuple[str, ...] = ()
    unavailable: str = ""
    error: str = ""


@dataclass
class Way:
    """One way the stack can end in success: the factors proven and the modules that passed."""

    factors: frozenset[str]
    modules: tuple[str, ...]


@dataclass
class StackReport:
    service: str
    files: list[str] = field(default_factory=list)
    ways: list[Way] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    entries: int = 0

    @property
    def weakest(self) -> Way | None:
        return min(self.ways, key=lambda w: (len(w.factors), len(w.modules)), default=None)

    def multi_factor(self) -> bool:
        """Every way in proves something known and something held (or a biometric), i.e. two categories."""
        return bool(self.ways) and all(len(w.factors) >= 2 for w in self.ways)

    def as_evidence(self) -> dict[str, object]:
        weak = self.weakest
        return {
            "service": self.service,
            "files": self.files,
            "modules": self.entries,
            "ways_in": len(self.ways),
            "multi_factor": self.multi_factor(),
            "weakest_way": {"factors": sorted(weak.factors), "modules": list(weak.modules)} if weak else None,
            "problems": self.problems[:20],
        }


@dataclass(frozen=True)
class SshdContext:
    """The sshd options in effect globally or inside one Match block (sshd_config with its defaults)."""

    label: str  # "global" or "Match <criteria>"
    options: dict[str, str]


@dataclass(frozen=True)
class WindowsLogon:
    """How Windows logon is authenticated: whether a second factor is enforced, why, and what was read."""

    enforced: bool
    reason: str  # in the staff's language
    rdp_enabled: bool
    evidence: dict[str, object]  # the registry values read (credential providers, filters, Remote Desktop)


@dataclass(frozen=True)
class MfaFacts:
    """Logon authentication: the PAM stacks of the logon services and sshd on Linux, the logon policy on Windows."""

    pam_d: str = ""
    pam_d_missing: bool = False
    services: tuple[str, ...] = ()  # the PAM services a person logs on through
    logon: tuple[StackReport, ...] = ()  # their auth stacks, in the same order
    not_logon: dict[str, str] = field(default_factory=dict)  # service -> why it is no logon (greeter, ...)
    autologin: dict[str, str] = field(default_factory=dict)  # service -> where autologin is switched on
    local_loops: tuple[str, ...] = ()  # include loops in the logon stacks ("service: loop")
    authselect: dict[str, object] | None = None  # RHEL family: the profile that generated pam.d (evidence only)
    sshd: StackReport | None = None  # sshd's PAM stack; None when sshd is not configured
    sshd_files: tuple[str, ...] = ()
    sshd_problems: tuple[str, ...] = ()
    sshd_contexts: tuple[SshdContext, ...] = ()
    ssh_loops: tuple[str, ...] = ()
    windows: WindowsLogon | None = None
    unavailable: str = ""
