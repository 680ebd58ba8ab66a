"""phoneagent's configuration: one TOML file, loaded and validated once at start.

``load_config(path)`` (or ``parse_config(text)``) returns a frozen ``Config`` or
raises ``ConfigError``, whose ``str()`` is one line naming the key's dotted path
and its line: ``config error: account.transport (line 7): must be one of udp,
tcp, tls, not "sctp"``.  Unknown sections and keys are errors too, so a typo
never passes silently.  ``default_config_text()`` is a commented example.

Keys
----

| Key                          | Default          | Meaning |
|------------------------------|------------------|---------|
| `account.uri`                | required         | address of record, `sip:`/`sips:` with a user |
| `account.username`           | the URI's user   | user name for digest authentication |
| `account.password`           | —                | exactly one of `password` and `password_file` |
| `account.password_file`      | —                | file holding the password (one `\n` is cut) |
| `account.registrar`          | the URI's domain | registrar URI without user (RFC 3263 lookup) |
| `account.outbound_proxy`     | `""`             | `sip:`/`sips:` URI all requests go through |
| `account.transport`          | `"udp"`          | `udp`, `tcp` or `tls`; `sips:` requires `tls` |
| `account.expires`            | `600`            | registration expiry to ask for, 60..86400 s |
| `account.keepalive_interval` | `25`             | seconds between keep-alives, 5..3600; 0: none |
| `account.srtp`               | `"optional"`     | `off`, `optional` or `mandatory` SDES-SRTP |
| `account.register`           | `true`           | `false`: no registrar, calls go peer to peer |
| `network.listen`             | `"0.0.0.0:5060"` | local `ip:port` (`[::]:5060`); port 0: any |
| `network.dns_servers`        | `[]`             | IPs, `"ip:port"`, `"[ip]:port"`; `[]`: system |
| `tls.ca_file`                | `""`             | CA bundle; `""`: the system's CAs |
| `tls.certificate`            | `""`             | for accepting SIP over TLS, with `private_key` |
| `tls.private_key`            | `""`             | the certificate's key, with `certificate` |
| `tls.verify_server`          | `true`           | `false` only in a lab (warns at start) |
| `timers.t1`                  | `0.5`            | RFC 3261 T1 (round-trip estimate), 0.01..10 s |
| `timers.t2`                  | `4.0`            | RFC 3261 T2 (retransmit cap), t1..60 s |
| `timers.t4`                  | `5.0`            | RFC 3261 T4 (message lifetime), 0.01..60 s |
| `hardware.backend`           | `"mock"`         | `pi` (GPIO, ALSA) or `mock` (simulated) |
| `hardware.profile`           | `"pi-desk-4x3"`  | board profile (pin map) from `hw/profiles/` |
| `hardware.flash_min_ms`      | `80`             | shortest on-hook taken as a flash, 20..1000 |
| `hardware.flash_max_ms`      | `600`            | longest flash; longer hangs up, 50..2000 |
| `audio.capture_device`       | `"default"`      | ALSA device of the handset's microphone |
| `audio.playback_device`      | `"default"`      | ALSA device of the handset's earpiece |
| `audio.ring_device`          | `""`             | ALSA device to ring on; `""`: the GPIO ringer |
| `audio.period_ms`            | `20`             | ALSA period, 10 or 20 ms |
| `console.port`               | `"/dev/serial0"` | pyserial port or URL (`loop://`); `""`: off |
| `console.baudrate`           | `115200`         | console speed, 50..4000000 |
| `log.level`                  | `"info"`         | `debug`, `info`, `warning` or `error` |
| `log.sip_trace`              | `false`          | log every SIP message sent and received |
| `media.codecs`               | `["PCMU", "PCMA"]` | offered and accepted, in our order |
| `media.ptime`                | `20`             | packetisation in ms: 10, 20, 30 or 40 |
| `media.rtp_ports`            | `[]`             | `[first, last]` even RTP ports; `[]`: any |
| `media.play`                 | `"tone:1000"`    | mock mic: `tone:HZ`, `silence`, `file:PATH` |
| `media.record`               | `""`             | WAV file of the mock handset's earpiece |
| `media.srtp_suites`          | `["AES_CM_128_HMAC_SHA1_80"]` | SDES suites offered, in order |
| `media.srtp_without_tls`     | `false`          | send SRTP keys over plain UDP/TCP (lab only) |
| `media.srtp_keying`          | `"sdes"`         | how our offers key SRTP: `sdes` or `dtls` |
| `media.rtcp_mux`             | `true`           | RTCP on the RTP port if both agree (RFC 5761) |
| `phone.auto_answer`          | `false`          | answer incoming calls by themselves (intercom) |
| `phone.auto_answer_delay`    | `0`              | seconds before an automatic answer, 0..600 |
| `phone.tone_country`         | `"us"`           | call-progress tones of `us`, `uk`, `de`, `fr` |
| `phone.dial_plan`            | `[]`             | digit map: `"911"`, `"1xxx"`, `"<0:+49>x."` |
| `phone.inter_digit_timeout`  | `4`              | seconds after a digit before dialling, 1..30 |
| `phone.speed_dials`          | `{}`             | `{ "1" = "sip:…" }`: dialled key → target |
| `phone.do_not_disturb`       | `false`          | refuse incoming calls (480) at start |
| `phone.call_waiting`         | `true`           | a 2nd call beeps; flash takes it |
| `history.path`               | `""`             | call log (JSON lines); `""`: state dir |

Relative file names are taken relative to the configuration file's directory.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from phoneagent.config_schema import (
    ArrayOf,
    Boolean,
    ConfigError,
    FilePath,
    Integer,
    KeyLines,
    Number,
    RuleContext,
    Section,
    Setting,
    SettingError,
    TableOf,
    Text,
    build_sections,
    parse_toml,
    show,
    wrong_type,
)
from phoneagent.hal.profiles import load_profile
from phoneagent.media.srtp_keys import DTLS_SRTP_PROFILES
from phoneagent.media.tones import COUNTRIES
from phoneagent.phone.dialplan import DialPlan, DialPlanError
from phoneagent.sip import RemoteProtocolError, SipUri, TelUri, parse_uri

__all__ = [
    "SECTIONS",
    "AccountConfig",
    "AudioConfig",
    "Config",
    "ConfigError",
    "ConsoleConfig",
    "HardwareConfig",
    "HistoryConfig",
    "HostPort",
    "LogConfig",
    "NetworkConfig",
    "TimerConfig",
    "TlsConfig",
    "default_config_text",
    "load_config",
    "parse_config",
]

logger = logging.getLogger(__name__)

Transport = Literal["udp", "tcp", "tls"]
Backend = Literal["pi", "mock"]
LogLevel = Literal["debug", "info", "warning", "error"]
LOG_LEVELS: tuple[str, ...] = ("debug", "info", "warning", "error")


@dataclass(frozen=True, slots=True)
class HostPort:
    """An IP address (IPv6 without brackets) and a port."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class AccountConfig:
    uri: SipUri
    username: str
    password: str
    password_file: Path | None
    registrar: SipUri
    outbound_proxy: SipUri | None
    transport: Transport
    expires: int
    keepalive_interval: int
    srtp: str
    register: bool


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    listen: HostPort
    dns_servers: tuple[HostPort, ...]


@dataclass(frozen=True, slots=True)
class TlsConfig:
    ca_file: Path | None
    certificate: Path | None
    private_key: Path | None
    verify_server: bool


@dataclass(frozen=True, slots=True)
class TimerConfig:
    t1: float
    t2: float
    t4: float


@dataclass(frozen=True, slots=True)
class HardwareConfig:
    backend: Backend
    profile: str
    flash_min_ms: int
    flash_max_ms: int


@dataclass(frozen=True, slots=True)
class AudioConfig:
    capture_device: str
    playback_device: str
    ring_device: str | None
    period_ms: int


@dataclass(frozen=True, slots=True)
class ConsoleConfig:
    port: str | None
    baudrate: int


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: LogLevel
    sip_trace: bool


@dataclass(frozen=True, slots=True)
class MediaConfig:
    codecs: tuple[str, ...]
    ptime: int
    rtp_ports: tuple[int, int] | None
    play: str
    record: str | None
    srtp_suites: tuple[str, ...]
    srtp_without_tls: bool
    srtp_keying: str
    rtcp_mux: bool


@dataclass(frozen=True, slots=True)
class PhoneConfig:
    auto_answer: bool
    auto_answer_delay: float
    tone_country: str
    dial_plan: tuple[str, ...]
    inter_digit_timeout: float
    speed_dials: dict[str, str]
    do_not_disturb: bool
    call_waiting: bool


@dataclass(frozen=True, slots=True)
class HistoryConfig:
    path: Path


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; ``source`` is the file it came from, if any."""

    account: AccountConfig
    network: NetworkConfig
    tls: TlsConfig
    timers: TimerConfig
    hardware: HardwareConfig
    audio: AudioConfig
    console: ConsoleConfig
    log: LogConfig
    media: MediaConfig
    phone: PhoneConfig
    history: HistoryConfig
    source: Path | None = None


# -- rules of our own -------------------------------------------------------------------


@dataclass(frozen=True)
class SipAddress:
    """A ``sip:``/``sips:`` URI without headers or password; ``user`` says whether it needs one.

    ``optional``: "" means not set (None).
    """

    user: Literal["required", "forbidden", "allowed"] = "allowed"
    optional: bool = False

    def __call__(self, value: object, context: RuleContext, /) -> SipUri | None:
        if not isinstance(value, str):
            raise wrong_type("a sip: or sips: URI", value)
        if not value and self.optional:
            return None
        try:
            uri = parse_uri(value)
        except RemoteProtocolError as error:
            raise SettingError(f"not a valid URI: {error.reason}") from None
        if not isinstance(uri, SipUri):
            raise SettingError(f"must be a sip: or sips: URI, not {show(value)}")
        if uri.headers:
            raise SettingError(f"must not have headers (?…), not {show(value)}")
        if uri.password is not None:
            raise SettingError("must not hold a password: use account.password")
        if self.user == "required" and uri.user is None:
            raise SettingError(f"needs a user part (sip:alice@example.org), not {show(value)}")
        if self.user == "forbidden" and uri.user is not None:
            raise SettingError(f"must not have a user part (RFC 3261 §10.2), not {show(value)}")
        return uri


_PORT_RE = re.compile(r"[0-9]{1,5}")


@dataclass(frozen=True)
class SocketAddress:
    """``ip:port`` or ``[ipv6]:port``; without ``default_port`` the port is required."""

    default_port: int | None = None
    minimum_port: int = 0

    def __call__(self, value: object, context: RuleContext, /) -> HostPort:
        if not isinstance(value, str):
            raise wrong_type("a string", value)
        form = '"ip:port" or "[ipv6]:port"' if self.default_port is None else '"ip[:port]"'
        port_text: str | None
        if value.startswith("["):
            host, bracket, rest = value[1:].partition("]")
            if not bracket or (rest and not rest.startswith(":")):
                raise SettingError(f"must be {form}, not {show(value)}")
            port_text = rest[1:] if rest else None
        elif value.count(":") == 1:
            host, _, port_text = value.partition(":")
        else:  # no port, or a bare IPv6 address
            host, port_text = value, None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            where = "" if host == value else f" (in {show(value)})"
            raise SettingError(f"{show(host)} is not an IP address{where}") from None
        if value.startswith("[") and address.version != 6:
            raise SettingError(f"only IPv6 addresses go in brackets, not {show(value)}")
        if port_text is None:
            if self.default_port is None:
                raise SettingError(f"must be {form} (the port is missing), not {show(value)}")
            return HostPort(str(address), self.default_port)
        port = int(port_text) if _PORT_RE.fullmatch(port_text) else -1
        if not self.minimum_port <= port <= 65535:
            raise SettingError(f"port must be {self.minimum_port}..65535, not {show(port_text)}")
        return HostPort(str(address), port)


@dataclass(frozen=True)
class BoardProfileName:
    """A board profile shipped in ``hw/profiles/`` (by name) or a profile file (by path)."""

    def __call__(self, value: object, context: RuleContext, /) -> str:
        if not isinstance(value, str) or not value:
            raise wrong_type("a board profile name", value)
        name = value
        if "/" in value and context.base_dir is not None:
            name = str(context.base_dir / value)
        try:
            load_profile(name)
        except ValueError as error:
            raise SettingError(str(error)) from None
        return name


@dataclass(frozen=True)
class DialPattern:
    """One digit-map pattern of the dial plan (``phoneagent.phone.dialplan``)."""

    def __call__(self, value: object, context: RuleContext, /) -> str:
        if not isinstance(value, str):
            raise wrong_type("a dial-plan pattern", value)
        try:
            DialPlan.parse([value])
        except DialPlanError as error:
            raise SettingError(str(error)) from None
        return value


_KEYS_RE = re.compile(r"[0-9*#]{1,8}")
_DIGITS_RE = re.compile(r"\+?[0-9*#]{1,32}")


@dataclass(frozen=True)
class SpeedDialKey:
    def __call__(self, value: object, context: RuleContext, /) -> str:
        if not isinstance(value, str) or not _KEYS_RE.fullmatch(value):
            raise SettingError("a speed-dial key is 1..8 keypad keys (0-9, *, #)")
        return value


@dataclass(frozen=True)
class CallTarget:
    """What a phone can call: digits, ``+E.164``, or a ``sip:``/``sips:``/``tel:`` URI."""

    def __call__(self, value: object, context: RuleContext, /) -> str:
        if not isinstance(value, str):
            raise wrong_type("digits or a sip:, sips: or tel: URI", value)
        if _DIGITS_RE.fullmatch(value):
            return value
        try:
            uri = parse_uri(value)
        except RemoteProtocolError as error:
            raise SettingError(f"not digits or a valid URI: {error.reason}") from None
        if not isinstance(uri, SipUri | TelUri):
            raise SettingError(f"must be digits or a sip:, sips: or tel: URI, not {show(value)}")
        return value


# -- checks between the keys of a section -----------------------------------------------


def _check_account(values: dict[str, Any]) -> None:
    uri: SipUri = values["uri"]
    if values["password"] is None and values["password_file"] is None:
        raise SettingError("required key is missing (or give password_file)", key="password")
    if values["password"] is not None and values["password_file"] is not None:
        raise SettingError("give password or password_file, not both", key="password_file")
    if values["password_file"] is not None:
        values["password"] = _read_secret(values["password_file"])
    if values["username"] is None:
        values["username"] = uri.user
    if values["registrar"] is None:  # RFC 3261 §10.2.6: the domain of the address of record
        values["registrar"] = SipUri(uri.scheme, None, None, uri.host, uri.port)
    for key in ("uri", "registrar", "outbound_proxy"):
        target = values[key]
        if target is not None and target.is_secure and values["transport"] != "tls":
            raise SettingError(
                f'must be "tls" with the sips: URI in account.{key}, '
                f"not {show(values['transport'])}",
                key="transport",
            )


def _read_secret(path: Path) -> str:
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as error:
        raise SettingError(f"cannot read {path}: {error.strerror}", key="password_file") from None
    except UnicodeDecodeError:
        raise SettingError(f"{path} is not UTF-8 text", key="password_file") from None
    secret = text.removesuffix("\n").removesuffix("\r")
    if not secret:
        raise SettingError(f"{path} is empty", key="password_file")
    return secret


def _check_tls(values: dict[str, Any]) -> None:
    if values["certificate"] is not None and values["private_key"] is None:
        raise SettingError("required together with tls.certificate", key="private_key")
    if values["private_key"] is not None and values["certificate"] is None:
        raise SettingError("required together with tls.private_key", key="certificate")


def _check_hardware(values: dict[str, Any]) -> None:
    if values["flash_max_ms"] <= values["flash_min_ms"]:
        raise SettingError(
            f"must be more than hardware.flash_min_ms ({values['flash_min_ms']})",
            key="flash_max_ms",
        )


def _check_audio(values: dict[str, Any]) -> None:
    if values["period_ms"] not in (10, 20):
        raise SettingError("must be 10 or 20", key="period_ms")


def _check_history(values: dict[str, Any]) -> None:
    if values["path"] is None:
        values["path"] = default_history_path()


def default_history_path() -> Path:
    """systemd's ``StateDirectory`` when run as a service, else the XDG state directory."""
    state = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    if state:
        return Path(state) / "history.jsonl"
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "phoneagent" / "history.jsonl"


def _check_timers(values: dict[str, Any]) -> None:
    if values["t2"] < values["t1"]:
        raise SettingError(f"must not be less than timers.t1 ({values['t1']:g})", key="t2")


#: The suites DTLS-SRTP has profiles for (RFC 5764 §4.1.2, RFC 7714 §14.2).
DTLS_SUITES = frozenset(DTLS_SRTP_PROFILES.values())
SRTP_SUITES = (
    "AES_CM_128_HMAC_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32",
    "AES_256_CM_HMAC_SHA1_80",
    "AES_256_CM_HMAC_SHA1_32",
    "AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM",
)


def _check_media(values: dict[str, Any]) -> None:
    if not values["srtp_suites"]:
        raise SettingError("needs at least one suite", key="srtp_suites")
    values["srtp_suites"] = tuple(values["srtp_suites"])
    if values["ptime"] not in (10, 20, 30, 40):
        raise SettingError("must be 10, 20, 30 or 40", key="ptime")
    codecs = values["codecs"]
    if not codecs:
        raise SettingError("needs at least one codec", key="codecs")
    values["codecs"] = tuple(codecs)
    ports = values["rtp_ports"]
    if not ports:
        values["rtp_ports"] = None
    elif len(ports) != 2 or ports[0] % 2 or ports[1] <= ports[0] + 1:
        raise SettingError("must be [first, last]: an even first port below last", key="rtp_ports")
    else:
        values["rtp_ports"] = (ports[0], ports[1])
    if values["srtp_keying"] == "dtls" and not set(values["srtp_suites"]) & DTLS_SUITES:
        raise SettingError(
            f"DTLS-SRTP needs one of {', '.join(sorted(DTLS_SUITES))} in media.srtp_suites",
            key="srtp_keying",
        )
    play = values["play"]
    if not (play == "silence" or play.startswith(("tone:", "file:"))):
        raise SettingError('must be "silence", "tone:HZ" or "file:PATH"', key="play")
    if play.startswith("tone:"):
        try:
            frequency = float(play[5:])
        except ValueError:
            raise SettingError(f"not a frequency: {play[5:]!r}", key="play") from None
        if not 50 <= frequency <= 3900:
            raise SettingError("tone frequency must be 50..3900 Hz", key="play")


# -- the registry: one entry per section, one Config field of the same name -------------

SECTIONS: tuple[Section, ...] = (
    Section(
        "account",
        AccountConfig,
        (
            Setting("uri", SipAddress(user="required")),
            Setting("username", Text(non_empty=True), default=None),
            Setting("password", Text(non_empty=True), default=None),
            Setting("password_file", FilePath(optional=False), default=None),
            Setting("registrar", SipAddress(user="forbidden"), default=None),
            Setting("outbound_proxy", SipAddress(optional=True), default=""),
            Setting("transport", Text(choices=("udp", "tcp", "tls")), default="udp"),
            Setting("expires", Integer(60, 86400), default=600),
            Setting("keepalive_interval", Integer(5, 3600, also=(0,)), default=25),
            Setting("srtp", Text(choices=("off", "optional", "mandatory")), default="optional"),
            Setting("register", Boolean(), default=True),
        ),
        check=_check_account,
    ),
    Section(
        "network",
        NetworkConfig,
        (
            Setting("listen", SocketAddress(), default="0.0.0.0:5060"),
            Setting("dns_servers", ArrayOf(SocketAddress(53, minimum_port=1)), default=[]),
        ),
    ),
    Section(
        "tls",
        TlsConfig,
        (
            Setting("ca_file", FilePath(readable=True), default=""),
            Setting("certificate", FilePath(readable=True), default=""),
            Setting("private_key", FilePath(readable=True), default=""),
            Setting("verify_server", Boolean(), default=True),
        ),
        check=_check_tls,
    ),
    Section(
        "timers",
        TimerConfig,
        (
            Setting("t1", Number(0.01, 10), default=0.5),
            Setting("t2", Number(0.01, 60), default=4.0),
            Setting("t4", Number(0.01, 60), default=5.0),
        ),
        check=_check_timers,
    ),
    Section(
        "hardware",
        HardwareConfig,
        (
            Setting("backend", Text(choices=("pi", "mock")), default="mock"),
            Setting("profile", BoardProfileName(), default="pi-desk-4x3"),
            Setting("flash_min_ms", Integer(20, 1000), default=80),
            Setting("flash_max_ms", Integer(50, 2000), default=600),
        ),
        check=_check_hardware,
    ),
    Section(
        "audio",
        AudioConfig,
        (
            Setting("capture_device", Text(non_empty=True), default="default"),
            Setting("playback_device", Text(non_empty=True), default="default"),
            Setting("ring_device", Text(empty_is_none=True), default=""),
            Setting("period_ms", Integer(10, 20), default=20),
        ),
        check=_check_audio,
    ),
    Section(
        "console",
        ConsoleConfig,
        (
            Setting("port", Text(empty_is_none=True), default="/dev/serial0"),
            Setting("baudrate", Integer(50, 4_000_000), default=115200),
        ),
    ),
    Section(
        "log",
        LogConfig,
        (
            Setting("level", Text(choices=LOG_LEVELS), default="info"),
            Setting("sip_trace", Boolean(), default=False),
        ),
    ),
    Section(
        "media",
        MediaConfig,
        (
            Setting("codecs", ArrayOf(Text(choices=("PCMU", "PCMA"))), default=["PCMU", "PCMA"]),
            Setting("ptime", Integer(10, 40), default=20),
            Setting("rtp_ports", ArrayOf(Integer(1024, 65535)), default=[]),
            # The mock backend's handset: what its microphone picks up, what its earpiece plays.
            Setting("play", Text(non_empty=True), default="tone:1000"),
            Setting("record", Text(empty_is_none=True), default=""),
            Setting(
                "srtp_suites",
                ArrayOf(Text(choices=SRTP_SUITES)),
                default=["AES_CM_128_HMAC_SHA1_80"],
            ),
            # SRTP keys travel in SDP: over plain UDP/TCP anyone on the path reads them.
            Setting("srtp_without_tls", Boolean(), default=False),
            # SDES keys travel in SDP; DTLS-SRTP makes them in a handshake on the RTP port.
            Setting("srtp_keying", Text(choices=("sdes", "dtls")), default="sdes"),
            Setting("rtcp_mux", Boolean(), default=True),
        ),
        check=_check_media,
    ),
    Section(
        "phone",
        PhoneConfig,
        (
            Setting("auto_answer", Boolean(), default=False),
            Setting("auto_answer_delay", Number(0, 600), default=0),
            Setting("tone_country", Text(choices=COUNTRIES), default="us"),
            Setting("dial_plan", ArrayOf(DialPattern()), default=[]),
            Setting("inter_digit_timeout", Number(1, 30), default=4),
            Setting("speed_dials", TableOf(SpeedDialKey(), CallTarget()), default={}),
            Setting("do_not_disturb", Boolean(), default=False),
            Setting("call_waiting", Boolean(), default=True),
        ),
    ),
    Section(
        "history",
        HistoryConfig,
        (Setting("path", FilePath(), default=""),),
        check=_check_history,
    ),
)


# -- entry points -----------------------------------------------------------------------


def parse_config(text: str, source: Path | None = None) -> Config:
    """Validate the TOML ``text``; relative file names are relative to ``source``'s directory."""
    document = parse_toml(text)
    context = RuleContext(base_dir=None if source is None else source.parent)
    sections = build_sections(document, SECTIONS, KeyLines.scan(text), context)
    config = Config(**sections, source=source)
    if not config.tls.verify_server:
        logger.warning("tls.verify_server = false: TLS servers are NOT verified (lab use only)")
    return config


def load_config(path: Path) -> Config:
    """Read and validate the configuration file ``path``."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    try:
        text = data.decode("utf-8-sig")  # tolerate the byte order mark some editors write
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(f"{path} is not UTF-8 text", line=line) from None
    return parse_config(text, source=path)


_DEFAULT_CONFIG_TEXT = """\
# phoneagent configuration (TOML).  Lines starting with "# key =" show a default.

[account]
uri = "sip:alice@example.org"       # address of record (sip: or sips:), required
# username = "alice"                # default: the user part of uri
password = "secret"                 # or password_file, not both:
# password_file = "/etc/phoneagent/secret"
# registrar = "sip:example.org"     # default: the domain of uri (RFC 3263 lookup)
outbound_proxy = ""                 # "" or a sip:/sips: URI
transport = "udp"                   # udp | tcp | tls; a sips: URI requires tls
expires = 600                       # registration expiry to ask for, 60..86400 s
keepalive_interval = 25             # seconds, 5..3600; 0 disables
srtp = "optional"                   # off | optional | mandatory (SDES keys only over TLS)
register = true                     # false: no registrar, calls go straight to their target

[network]
listen = "0.0.0.0:5060"             # host:port, IPv6 as "[::]:5060"; port 0: any free port
dns_servers = []                    # e.g. ["192.0.2.53", "[2001:db8::53]:53"]; []: the system's

[tls]
ca_file = ""                        # CA bundle; "": the system's CAs
certificate = ""                    # for accepting SIP over TLS, with private_key
private_key = ""
verify_server = true                # false only for lab use (logs a warning)

[timers]                            # RFC 3261 §17, seconds
t1 = 0.5                            # 0.01..10
t2 = 4.0                            # t1..60
t4 = 5.0                            # 0.01..60

[hardware]
backend = "mock"                    # pi | mock
profile = "pi-desk-4x3"             # the board's pin map, from hw/profiles/ (or a file path)
flash_min_ms = 80                   # an on-hook of flash_min_ms..flash_max_ms is a flash;
flash_max_ms = 600                  # a longer one hangs up

[audio]                             # the handset on the pi backend (ALSA device names)
capture_device = "default"          # e.g. "plughw:CARD=Device"
playback_device = "default"
ring_device = ""                    # ring on this ALSA device; "": the GPIO ringer
period_ms = 20                      # 10 or 20

[console]
port = "/dev/serial0"               # a pyserial port or URL ("loop://", a pty); "": off
baudrate = 115200

[log]
level = "info"                      # debug | info | warning | error
sip_trace = false                   # log every SIP message

[media]
codecs = ["PCMU", "PCMA"]           # offered and accepted, in this order
ptime = 20                          # ms of audio per packet: 10, 20, 30 or 40
rtp_ports = []                      # [first, last] even RTP ports; [] lets the OS choose
play = "tone:1000"                  # the mock handset's microphone: tone:HZ, silence, file:PATH
record = ""                         # a WAV file of what its earpiece plays; "" for none
srtp_suites = ["AES_CM_128_HMAC_SHA1_80"]  # also _32, AES_256_CM_…, AEAD_AES_128/256_GCM
srtp_without_tls = false            # true only in a lab: keys in SDP readable on the path
srtp_keying = "sdes"                # sdes (a=crypto) | dtls (DTLS-SRTP, a=fingerprint)
rtcp_mux = true                     # offer/accept RTCP on the RTP port (RFC 5761)

[phone]
auto_answer = false                 # intercom: answer incoming calls by themselves
auto_answer_delay = 0               # seconds to ring before answering
tone_country = "us"                 # ringback, busy … as in us, uk, de or fr
dial_plan = []                      # e.g. ["911", "112", "1xxx", "<0:+49>[1-9]x."]: a match
                                    # dials at once; [] dials on # or the inter-digit timeout
inter_digit_timeout = 4             # seconds, 1..30
speed_dials = {}                    # e.g. { "1" = "sip:bob@example.org", "2" = "+4930123456" }
do_not_disturb = false              # refuse incoming calls (*78 on, *79 off at the keypad)
call_waiting = true                 # a second call beeps; flash answers it and holds the first

[history]
path = ""                           # JSON lines; "": $STATE_DIRECTORY or ~/.local/state/phoneagent
"""


def default_config_text() -> str:
    """A commented example configuration that loads as it is."""
    return _DEFAULT_CONFIG_TEXT
