"""The configuration file: every key's valid and invalid values, line numbers, one-line errors."""

from __future__ import annotations

import dataclasses
import logging
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from phoneagent import config as config_module
from phoneagent.config import (
    SECTIONS,
    Config,
    ConfigError,
    HostPort,
    default_config_text,
    load_config,
    parse_config,
)
from phoneagent.config_schema import REQUIRED, KeyLines, KeyPath, format_key

ACCOUNT = {"uri": '"sip:alice@example.org"', "password": '"secret"'}


def document(section: str, key: str, value: str) -> tuple[str, int]:
    """A valid account plus ``key = value`` in ``section``; returns the text and that line."""
    lines = ["# a test configuration", "[account]"]
    account = dict(ACCOUNT)
    if section == "account":
        account[key] = value
    key_line = 0
    for name, text in account.items():
        lines.append(f"{name} = {text}")
        if section == "account" and name == key:
            key_line = len(lines)
    if section != "account":
        lines += ["", f"[{section}]", f"{key} = {value}"]
        key_line = len(lines)
    return "\n".join(lines) + "\n", key_line


def error_of(text: str, source: Path | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert message.startswith("config error: ")
    return info.value


def minimal() -> Config:
    return parse_config(document("account", "uri", ACCOUNT["uri"])[0])


# -- defaults and the documentation ----------------------------------------------------


def test_minimal_config_takes_every_default() -> None:
    config = minimal()
    account = config.account
    assert str(account.uri) == "sip:alice@example.org"
    assert account.username == "alice"  # the URI's user
    assert account.password == "secret"
    assert account.password_file is None
    assert str(account.registrar) == "sip:example.org"  # the URI's domain
    assert account.outbound_proxy is None
    assert (account.transport, account.expires, account.keepalive_interval) == ("udp", 600, 25)
    assert config.network.listen == HostPort("0.0.0.0", 5060)
    assert config.network.dns_servers == ()
    assert dataclasses.astuple(config.tls) == (None, None, None, True)
    assert dataclasses.astuple(config.timers) == (0.5, 4.0, 5.0)
    assert config.hardware.backend == "mock"
    assert config.hardware.profile == "pi-desk-4x3"
    assert (config.hardware.flash_min_ms, config.hardware.flash_max_ms) == (80, 600)
    assert dataclasses.astuple(config.audio) == ("default", "default", None, 20)
    assert config.account.register is True
    phone = config.phone
    assert (phone.dial_plan, phone.inter_digit_timeout, phone.speed_dials) == ((), 4.0, {})
    assert (phone.do_not_disturb, phone.call_waiting) == (False, True)
    assert config.history.path.name == "history.jsonl"
    assert (config.console.port, config.console.baudrate) == ("/dev/serial0", 115200)
    assert (config.log.level, config.log.sip_trace) == ("info", False)
    assert config.source is None


def test_default_config_text_loads_and_matches_the_defaults() -> None:
    config = parse_config(default_config_text())
    assert config == minimal()


def test_default_config_text_shows_every_key() -> None:
    text = default_config_text()
    for section in SECTIONS:
        assert re.search(rf"^\[{section.name}\]", text, re.MULTILINE), section.name
        for setting in section.settings:
            assert re.search(rf"^(# )?{setting.name} = ", text, re.MULTILINE), setting.name


def test_history_goes_to_the_state_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/phoneagent")
    assert minimal().history.path == Path("/var/lib/phoneagent/history.jsonl")
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", "/home/pi/.state")
    assert minimal().history.path == Path("/home/pi/.state/phoneagent/history.jsonl")


def docstring_table() -> dict[str, str]:
    """``{"account.uri": "required", "network.listen": '`"0.0.0.0:5060"`', …}``."""
    assert config_module.__doc__ is not None
    rows = re.findall(r"^\| `([a-z_]+\.[a-z_0-9]+)` +\| ([^|]+?) +\|", config_module.__doc__, re.M)
    return dict(rows)


def test_docstring_table_documents_every_key_with_its_default() -> None:
    table = docstring_table()
    registered = [f"{s.name}.{setting.name}" for s in SECTIONS for setting in s.settings]
    assert list(table) == registered
    for section in SECTIONS:
        for setting in section.settings:
            shown = table[f"{section.name}.{setting.name}"]
            if setting.default is None or setting.default is REQUIRED:
                assert not shown.startswith("`"), shown  # required or derived: said in words
                continue
            literal = tomllib.loads(f"value = {shown.strip('`')}")["value"]
            assert literal == setting.default, setting.name


def test_registry_names_the_fields_of_config() -> None:
    names = [field.name for field in dataclasses.fields(Config)]
    assert names == [section.name for section in SECTIONS] + ["source"]
    for section in SECTIONS:
        factory = section.factory
        assert dataclasses.is_dataclass(factory)
        fields = [field.name for field in dataclasses.fields(factory)]
        assert fields == [setting.name for setting in section.settings]


def test_config_is_frozen() -> None:
    config = minimal()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.account.transport = "tcp"  # type: ignore[misc]


# -- every key: valid values --------------------------------------------------------------


def attribute(config: Config, section: str, key: str) -> Any:
    return getattr(getattr(config, section), key)


VALID: list[tuple[str, str, str, object]] = [
    ("account", "uri", '"sip:bob@example.com"', "sip:bob@example.com"),
    ("account", "uri", '"SIP:bob@Example.COM:5070"', "sip:bob@Example.COM:5070"),
    ("account", "username", '"bob.auth"', "bob.auth"),
    ("account", "password", '"p@ss word"', "p@ss word"),
    ("account", "registrar", '"sip:registrar.example.org:5080"', "sip:registrar.example.org:5080"),
    ("account", "registrar", '"sip:[2001:db8::1]"', "sip:[2001:db8::1]"),
    ("account", "outbound_proxy", '"sip:proxy.example.org;lr"', "sip:proxy.example.org;lr"),
    ("account", "outbound_proxy", '""', None),
    ("account", "transport", '"udp"', "udp"),
    ("account", "transport", '"tcp"', "tcp"),
    ("account", "transport", '"tls"', "tls"),
    ("account", "expires", "60", 60),
    ("account", "expires", "86400", 86400),
    ("account", "keepalive_interval", "0", 0),
    ("account", "keepalive_interval", "5", 5),
    ("account", "keepalive_interval", "3600", 3600),
    ("network", "listen", '"0.0.0.0:5060"', HostPort("0.0.0.0", 5060)),
    ("network", "listen", '"127.0.0.1:0"', HostPort("127.0.0.1", 0)),
    ("network", "listen", '"[::]:5060"', HostPort("::", 5060)),
    ("network", "listen", '"[2001:DB8::1]:65535"', HostPort("2001:db8::1", 65535)),
    ("network", "dns_servers", "[]", ()),
    ("network", "dns_servers", '["192.0.2.53"]', (HostPort("192.0.2.53", 53),)),
    (
        "network",
        "dns_servers",
        '["192.0.2.53:5353", "[2001:db8::53]:54", "2001:db8::55"]',
        (HostPort("192.0.2.53", 5353), HostPort("2001:db8::53", 54), HostPort("2001:db8::55", 53)),
    ),
    ("tls", "verify_server", "true", True),
    ("tls", "verify_server", "false", False),
    ("tls", "ca_file", '""', None),
    ("timers", "t1", "1", 1.0),
    ("timers", "t1", "0.01", 0.01),
    ("timers", "t2", "60", 60.0),
    ("timers", "t4", "0.01", 0.01),
    ("hardware", "backend", '"pi"', "pi"),
    ("hardware", "backend", '"mock"', "mock"),
    ("console", "port", '"loop://"', "loop://"),
    ("console", "port", '"/dev/pts/3"', "/dev/pts/3"),
    ("console", "port", '""', None),
    ("console", "baudrate", "9600", 9600),
    ("log", "level", '"debug"', "debug"),
    ("log", "level", '"warning"', "warning"),
    ("log", "level", '"error"', "error"),
    ("log", "sip_trace", "true", True),
    ("account", "srtp", '"mandatory"', "mandatory"),
    ("media", "srtp_suites", '["AEAD_AES_128_GCM"]', ("AEAD_AES_128_GCM",)),
    ("media", "srtp_without_tls", "true", True),
    ("media", "codecs", '["PCMA"]', ("PCMA",)),
    ("media", "ptime", "30", 30),
    ("media", "rtp_ports", "[16384, 16483]", (16384, 16483)),
    ("media", "play", '"tone:440"', "tone:440"),
    ("media", "record", '"in.wav"', "in.wav"),
    ("phone", "auto_answer", "true", True),
    ("phone", "auto_answer_delay", "2.5", 2.5),
    ("phone", "tone_country", '"de"', "de"),
    ("account", "register", "false", False),
    ("hardware", "profile", '"pi-rotary"', "pi-rotary"),
    ("hardware", "flash_min_ms", "100", 100),
    ("hardware", "flash_max_ms", "1000", 1000),
    ("audio", "capture_device", '"plughw:CARD=Device"', "plughw:CARD=Device"),
    ("audio", "playback_device", '"plughw:CARD=Device"', "plughw:CARD=Device"),
    ("audio", "ring_device", '"hw:1"', "hw:1"),
    ("audio", "ring_device", '""', None),
    ("audio", "period_ms", "10", 10),
    ("phone", "dial_plan", '["911", "1xxx", "<0:+49>[1-9]x."]', ("911", "1xxx", "<0:+49>[1-9]x.")),
    ("phone", "inter_digit_timeout", "2.5", 2.5),
    (
        "phone",
        "speed_dials",
        '{ "1" = "sip:bob@example.org", "*2" = "+4930123456", "3" = "tel:+1-212-555-0100" }',
        {"1": "sip:bob@example.org", "*2": "+4930123456", "3": "tel:+1-212-555-0100"},
    ),
    ("phone", "do_not_disturb", "true", True),
    ("phone", "call_waiting", "false", False),
    ("media", "srtp_keying", '"dtls"', "dtls"),
    ("media", "rtcp_mux", "false", False),
    ("history", "path", '"/var/lib/phone/calls.jsonl"', Path("/var/lib/phone/calls.jsonl")),
]


@pytest.mark.parametrize(("section", "key", "value", "expected"), VALID)
def test_valid_value(section: str, key: str, value: str, expected: object) -> None:
    config = parse_config(document(section, key, value)[0])
    got = attribute(config, section, key)
    assert (str(got) if expected is not None and isinstance(expected, str) else got) == expected


def test_timer_t1_of_ten_needs_a_t2_as_large() -> None:
    config = parse_config(document("timers", "t1", "10\nt2 = 10")[0])
    assert (config.timers.t1, config.timers.t2) == (10.0, 10.0)


def test_sips_uri_with_tls() -> None:
    text = document("account", "uri", '"sips:alice@example.org"')[0] + '\ntransport = "tls"\n'
    text = text.replace('password = "secret"\n\n', 'password = "secret"\n')
    config = parse_config(text.replace("\n\n", "\n"))
    assert config.account.transport == "tls"
    assert str(config.account.registrar) == "sips:example.org"


def test_lab_mode_logs_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="phoneagent.config"):
        parse_config(document("tls", "verify_server", "false")[0])
    assert "verify_server" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="phoneagent.config"):
        minimal()
    assert caplog.text == ""


# -- every key: invalid values -----------------------------------------------------------

# (section, key, value, message); a message ending in "…" is a prefix.
INVALID: list[tuple[str, str, str, str]] = [
    ("account", "uri", '"tel:+15551234567"', 'must be a sip: or sips: URI, not "tel:+15551234567"'),
    (
        "account",
        "uri",
        '"sip:example.org"',
        'needs a user part (sip:alice@example.org), not "sip:example.org"',
    ),
    ("account", "uri", '"sip:alice@exa mple.org"', "not a valid URI: …"),
    ("account", "uri", '""', "not a valid URI: …"),
    ("account", "uri", "42", "must be a sip: or sips: URI, not an integer (42)"),
    (
        "account",
        "uri",
        '"sip:alice:pw@example.org"',
        "must not hold a password: use account.password",
    ),
    ("account", "uri", '"sip:alice@example.org?subject=hi"', "must not have headers (?…), not …"),
    ("account", "username", '""', "must not be empty"),
    ("account", "username", "true", "must be a string, not a boolean (true)"),
    ("account", "password", '""', "must not be empty"),
    ("account", "password", "1234", "must be a string, not an integer (1234)"),
    ("account", "password_file", "5", "must be a file name, not an integer (5)"),
    (
        "account",
        "registrar",
        '"sip:bob@example.org"',
        "must not have a user part (RFC 3261 §10.2), not …",
    ),
    (
        "account",
        "registrar",
        '"https://example.org"',
        'must be a sip: or sips: URI, not "https://example.org"',
    ),
    (
        "account",
        "outbound_proxy",
        '"mailto:proxy@example.org"',
        "must be a sip: or sips: URI, not …",
    ),
    ("account", "outbound_proxy", "[]", "must be a sip: or sips: URI, not an array"),
    ("account", "transport", '"sctp"', 'must be one of udp, tcp, tls, not "sctp"'),
    ("account", "transport", '"UDP"', 'must be one of udp, tcp, tls, not "UDP"'),
    ("account", "transport", "1", "must be one of udp, tcp, tls, not an integer (1)"),
    ("account", "expires", "59", "must be an integer from 60 to 86400, not 59"),
    ("account", "expires", "86401", "must be an integer from 60 to 86400, not 86401"),
    ("account", "expires", '"600"', 'must be an integer, not a string ("600")'),
    ("account", "expires", "600.0", "must be an integer, not a float (600.0)"),
    ("account", "expires", "true", "must be an integer, not a boolean (true)"),
    ("account", "keepalive_interval", "4", "must be 0 or an integer from 5 to 3600, not 4"),
    ("account", "keepalive_interval", "3601", "must be 0 or an integer from 5 to 3600, not 3601"),
    ("account", "keepalive_interval", "-1", "must be 0 or an integer from 5 to 3600, not -1"),
    ("account", "keepalive_interval", "false", "must be an integer, not a boolean (false)"),
    (
        "network",
        "listen",
        '"0.0.0.0"',
        'must be "ip:port" or "[ipv6]:port" (the port is missing), not "0.0.0.0"',
    ),
    (
        "network",
        "listen",
        '"[::]"',
        'must be "ip:port" or "[ipv6]:port" (the port is missing), not "[::]"',
    ),
    ("network", "listen", '"::1:5060"', "must be … (the port is missing), not …"),
    (
        "network",
        "listen",
        '"example.org:5060"',
        '"example.org" is not an IP address (in "example.org:5060")',
    ),
    ("network", "listen", '"0.0.0.0:65536"', 'port must be 0..65535, not "65536"'),
    ("network", "listen", '"0.0.0.0:http"', 'port must be 0..65535, not "http"'),
    ("network", "listen", '"0.0.0.0:"', 'port must be 0..65535, not ""'),
    (
        "network",
        "listen",
        '"[127.0.0.1]:5060"',
        'only IPv6 addresses go in brackets, not "[127.0.0.1]:5060"',
    ),
    ("network", "listen", '"[::1:5060"', 'must be "ip:port" or "[ipv6]:port", not "[::1:5060"'),
    ("network", "listen", '"[::1]5060"', 'must be "ip:port" or "[ipv6]:port", not "[::1]5060"'),
    ("network", "listen", "5060", "must be a string, not an integer (5060)"),
    ("network", "dns_servers", '"192.0.2.53"', 'must be an array, not a string ("192.0.2.53")'),
    ("network", "dns_servers", '["192.0.2.53:0"]', 'port must be 1..65535, not "0"'),
    ("tls", "verify_server", '"no"', 'must be true or false, not a string ("no")'),
    ("tls", "verify_server", "0", "must be true or false, not an integer (0)"),
    (
        "tls",
        "ca_file",
        '"/nonexistent/ca.pem"',
        "cannot read /nonexistent/ca.pem: No such file or directory",
    ),
    ("tls", "ca_file", "false", "must be a file name, not a boolean (false)"),
    (
        "tls",
        "certificate",
        '"/nonexistent/cert.pem"',
        "cannot read /nonexistent/cert.pem: No such file or directory",
    ),
    ("tls", "private_key", "[]", "must be a file name, not an array"),
    ("timers", "t1", "0", "must be a number from 0.01 to 10, not 0"),
    ("timers", "t1", "0.001", "must be a number from 0.01 to 10, not 0.001"),
    ("timers", "t1", "10.5", "must be a number from 0.01 to 10, not 10.5"),
    ("timers", "t1", "nan", "must be a number from 0.01 to 10, not nan"),
    ("timers", "t1", "inf", "must be a number from 0.01 to 10, not inf"),
    ("timers", "t1", '"0.5"', 'must be a number, not a string ("0.5")'),
    ("timers", "t1", "true", "must be a number, not a boolean (true)"),
    ("timers", "t2", "61", "must be a number from 0.01 to 60, not 61"),
    ("timers", "t2", "0.4", "must not be less than timers.t1 (0.5)"),
    ("timers", "t4", "0", "must be a number from 0.01 to 60, not 0"),
    ("hardware", "backend", '"gpio"', 'must be one of pi, mock, not "gpio"'),
    ("console", "port", "0", "must be a string, not an integer (0)"),
    ("console", "baudrate", "49", "must be an integer from 50 to 4000000, not 49"),
    ("console", "baudrate", "4000001", "must be an integer from 50 to 4000000, not 4000001"),
    ("console", "baudrate", '"115200"', 'must be an integer, not a string ("115200")'),
    ("log", "level", '"verbose"', 'must be one of debug, info, warning, error, not "verbose"'),
    ("log", "level", '"INFO"', 'must be one of debug, info, warning, error, not "INFO"'),
    ("log", "sip_trace", '"yes"', 'must be true or false, not a string ("yes")'),
    ("log", "sip_trace", "{}", "must be true or false, not a table"),
    ("account", "srtp", '"maybe"', 'must be one of off, optional, mandatory, not "maybe"'),
    ("media", "srtp_suites", "[]", "needs at least one suite"),
    ("media", "srtp_without_tls", '"no"', 'must be true or false, not a string ("no")'),
    ("media", "codecs", '["G729"]', 'must be one of PCMU, PCMA, not "G729"'),
    ("media", "ptime", "25", "must be 10, 20, 30 or 40"),
    (
        "media",
        "rtp_ports",
        "[16385, 16483]",
        "must be [first, last]: an even first port below last",
    ),
    ("media", "play", '"tone:99999"', "tone frequency must be 50..3900 Hz"),
    ("media", "record", "1", "must be a string, not an integer (1)"),
    ("phone", "auto_answer", '"yes"', 'must be true or false, not a string ("yes")'),
    ("phone", "auto_answer_delay", "-1", "must be a number from 0 to 600, not -1"),
    ("phone", "tone_country", '"xx"', 'must be one of us, uk, de, fr, not "xx"'),
    ("account", "register", "1", "must be true or false, not an integer (1)"),
    ("hardware", "profile", '"no-such-board"', "…no-such-board…"),
    ("hardware", "flash_min_ms", "10", "must be an integer from 20 to 1000, not 10"),
    ("hardware", "flash_max_ms", "70", "must be more than hardware.flash_min_ms (80)"),
    ("audio", "capture_device", '""', "must not be empty"),
    ("audio", "playback_device", "3", "must be a string, not an integer (3)"),
    ("audio", "ring_device", "[]", "must be a string, not an array"),
    ("audio", "period_ms", "15", "must be 10 or 20"),
    ("phone", "dial_plan", '["1xx[9-"]', "…1xx[9-…"),
    ("phone", "inter_digit_timeout", "0", "must be a number from 1 to 30, not 0"),
    ("phone", "speed_dials", '{ "1" = "mailto:bob@example.org" }', '"1": must be digits…'),
    ("phone", "speed_dials", '{ "a" = "100" }', '"a": a speed-dial key is 1..8 keypad keys…'),
    ("phone", "do_not_disturb", '"on"', 'must be true or false, not a string ("on")'),
    ("phone", "call_waiting", "0", "must be true or false, not an integer (0)"),
    ("media", "srtp_keying", '"zrtp"', 'must be one of sdes, dtls, not "zrtp"'),
    ("media", "rtcp_mux", '"yes"', 'must be true or false, not a string ("yes")'),
    ("history", "path", "7", "must be a file name, not an integer (7)"),
]


def assert_message(error: ConfigError, prefix: str, expected: str) -> None:
    message = str(error)
    assert message.startswith(prefix), message
    if "…" in expected:
        pattern = ".*?".join(re.escape(piece) for piece in expected.split("…"))
        assert re.fullmatch(pattern, message[len(prefix) :], re.DOTALL), message
    else:
        assert message == prefix + expected


@pytest.mark.parametrize(("section", "key", "value", "message"), INVALID)
def test_invalid_value(section: str, key: str, value: str, message: str) -> None:
    text, line = document(section, key, value)
    error = error_of(text)
    assert error.key is not None and re.fullmatch(rf"{section}\.{key}(\[\d+\])?", error.key)
    assert error.line == line
    assert_message(error, f"config error: {error.key} (line {line}): ", message)


def test_every_key_has_a_valid_and_an_invalid_case() -> None:
    valid = {(section, key) for section, key, _, _ in VALID}
    invalid = {(section, key) for section, key, _, _ in INVALID}
    for section in SECTIONS:
        for setting in section.settings:
            path = (section.name, setting.name)
            assert path in invalid, path
            # the valid file names are in test_password_file and test_tls_files
            assert path in valid or path[1] in {"password_file", "certificate", "private_key"}


def test_the_example_in_the_brief_word_for_word() -> None:
    text = '[account]\nuri = "sip:alice@example.org"\npassword = "x"\n\n\n\ntransport = "sctp"\n'
    assert str(error_of(text)) == (
        'config error: account.transport (line 7): must be one of udp, tcp, tls, not "sctp"'
    )


def test_a_bad_array_element_is_named_by_index_and_its_own_line() -> None:
    text = document("network", "dns_servers", '[\n  "192.0.2.1",\n  "dns.example",\n]')[0]
    assert str(error_of(text)) == (
        'config error: network.dns_servers[1] (line 9): "dns.example" is not an IP address'
    )


# -- checks between keys ---------------------------------------------------------------


def test_sips_uri_requires_tls() -> None:
    text, _ = document("account", "uri", '"sips:alice@example.org"')
    assert str(error_of(text)) == (
        "config error: account.transport (line 2): "
        'must be "tls" with the sips: URI in account.uri, not "udp"'
    )
    text, line = document("account", "transport", '"tcp"')
    text = text.replace("sip:alice", "sips:alice")
    assert str(error_of(text)) == (
        f"config error: account.transport (line {line}): "
        'must be "tls" with the sips: URI in account.uri, not "tcp"'
    )


@pytest.mark.parametrize("key", ["registrar", "outbound_proxy"])
def test_a_sips_registrar_or_proxy_requires_tls(key: str) -> None:
    text, _ = document("account", key, '"sips:example.org"')
    assert f"with the sips: URI in account.{key}" in str(error_of(text))
    text = text.replace('password = "secret"', 'password = "secret"\ntransport = "tls"')
    assert str(getattr(parse_config(text).account, key)) == "sips:example.org"


def test_missing_required_keys_name_the_table_header_line() -> None:
    text = '# comment\n\n[account]\npassword = "x"\n'
    assert str(error_of(text)) == "config error: account.uri (line 3): required key is missing"
    text = '[log]\nlevel = "info"\n'
    assert str(error_of(text)) == "config error: account.uri: required key is missing"


def test_password_or_password_file_exactly_one() -> None:
    text = '[log]\n[account]\nuri = "sip:alice@example.org"\n'
    assert str(error_of(text)) == (
        "config error: account.password (line 2): required key is missing (or give password_file)"
    )
    text, line = document("account", "password_file", '"/etc/phoneagent/secret"')
    assert str(error_of(text)) == (
        f"config error: account.password_file (line {line}): "
        "give password or password_file, not both"
    )


def without_password(key: str, value: str) -> tuple[str, int]:
    text, line = document("account", key, value)
    return text.replace('password = "secret"\n', ""), line - 1


@pytest.mark.parametrize(
    ("content", "password"),
    [
        (b"s3cret\n", "s3cret"),
        (b"s3cret\r\n", "s3cret"),
        (b"s3cret", "s3cret"),
        (b"s3cret\n\n", "s3cret\n"),  # only the one trailing newline goes
        (b" spaced \n", " spaced "),
        ("pässwört\n".encode(), "pässwört"),
    ],
)
def test_password_file(tmp_path: Path, content: bytes, password: str) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(content)
    config = parse_config(without_password("password_file", f'"{secret}"')[0])
    assert config.account.password == password
    assert config.account.password_file == secret


def test_password_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("s3cret\n")
    path = tmp_path / "phoneagent.toml"
    path.write_text(without_password("password_file", '"secret"')[0])
    config = load_config(path)
    assert config.account.password == "s3cret"
    assert config.account.password_file == tmp_path / "secret"
    assert config.source == path


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "cannot read {path}: No such file or directory"),
        ("directory", "cannot read {path}: Is a directory"),
        (b"", "{path} is empty"),
        (b"\n", "{path} is empty"),
        (b"\xff\xfe\n", "{path} is not UTF-8 text"),
    ],
)
def test_password_file_errors(tmp_path: Path, content: bytes | str | None, problem: str) -> None:
    path = tmp_path / "secret"
    if content == "directory":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    text, line = without_password("password_file", f'"{path}"')
    assert str(error_of(text)) == (
        f"config error: account.password_file (line {line}): {problem.format(path=path)}"
    )


def test_empty_password_file_name() -> None:
    text, line = without_password("password_file", '""')
    assert str(error_of(text)) == (
        f"config error: account.password_file (line {line}): must not be empty"
    )


def test_tls_files(tmp_path: Path) -> None:
    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("-----BEGIN …\n")
    path = tmp_path / "phoneagent.toml"
    path.write_text(
        document("tls", "ca_file", '"ca.pem"')[0]
        + f'certificate = "cert.pem"\nprivate_key = "{tmp_path / "key.pem"}"\n'
    )
    tls = load_config(path).tls
    assert (tls.ca_file, tls.certificate, tls.private_key) == (
        tmp_path / "ca.pem",
        tmp_path / "cert.pem",
        tmp_path / "key.pem",
    )


@pytest.mark.parametrize(
    ("given", "missing"), [("certificate", "private_key"), ("private_key", "certificate")]
)
def test_certificate_and_private_key_come_together(
    tmp_path: Path, given: str, missing: str
) -> None:
    (tmp_path / "file.pem").write_text("x")
    text, _ = document("tls", given, f'"{tmp_path / "file.pem"}"')
    assert str(error_of(text)) == (
        f"config error: tls.{missing} (line 6): required together with tls.{given}"
    )


# -- unknown keys and sections ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[account]\nuri = "sip:a@b.org"\npasword = "x"\n',
            'account.pasword (line 3): unknown key (did you mean "password"?)',
        ),
        (
            '[account]\nuri = "sip:a@b.org"\npassword = "x"\ncolour = "red"\n',
            "account.colour (line 4): unknown key (known: uri, username, password, "
            "password_file, registrar, outbound_proxy, transport, expires, keepalive_interval, "
            "srtp, register)",
        ),
        (
            '[acount]\nuri = "sip:a@b.org"\n',
            'acount (line 1): unknown section (did you mean "account"?)',
        ),
        (
            "[video]\ncodecs = []\n",
            "video (line 1): unknown section "
            "(known: account, network, tls, timers, hardware, audio, console, log, media, phone, "
            "history)",
        ),
        (
            "debug = true\n",
            "debug (line 1): unknown top-level key "
            "(known: account, network, tls, timers, hardware, audio, console, log, media, phone, "
            "history)",
        ),
        (
            "[account.sip]\nport = 5\n",
            "account.sip (line 1): unknown key (known: uri, username, password, password_file, "
            "registrar, outbound_proxy, transport, expires, keepalive_interval, srtp, register)",
        ),
        ('log = "debug"\n', "log (line 1): must be a table [log], not a string"),
        ('[[log]]\nlevel = "info"\n', "log (line 1): must be a table [log], not an array"),
        (
            '[log]\n"level\\nx" = 1\n',
            'log."level\\nx" (line 2): unknown key (did you mean "level"?)',
        ),
    ],
)
def test_unknown_keys_and_sections(text: str, message: str) -> None:
    if "[account]" not in text:
        text = text + '[account]\nuri = "sip:a@b.org"\npassword = "x"\n'
    assert str(error_of(text)) == f"config error: {message}"


def test_the_error_first_in_the_file_wins_and_the_others_ride_along() -> None:
    text = '[log]\nlevel = "loud"\n[account]\nuri = "sip:a@b.org"\npassword = "x"\nexpires = 1\n'
    text += "[timers]\nt9 = 1\n"
    error = error_of(text)
    assert (error.key, error.line) == ("log.level", 2)
    assert [(other.key, other.line) for other in error.others] == [
        ("account.expires", 6),
        ("timers.t9", 8),
    ]


# -- line numbers in every form TOML allows ------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        # a dotted key at the top level, after comments that look like keys
        (
            '# transport = "x"\naccount.uri = "sip:a@b.org"\n# [account]\n'
            'account.password = "x"\naccount.transport = "sctp"\n',
            "account.transport",
            5,
        ),
        # quoted and literal keys, spaces around dots and in headers
        (
            '[ account ]\n"uri" = "sip:a@b.org"\n\'password\' = "x"\n"transport" = 1\n',
            "account.transport",
            4,
        ),
        (
            '[ "account" ]\nuri = "sip:a@b.org"\npassword = "x"\n[ "log" ]\n "level"  =  1\n',
            "log.level",
            5,
        ),
        (
            '["account"]\nuri = "sip:a@b.org"\npassword = "x"\n"trans\\u0070ort" = 1\n',
            "account.transport",
            4,
        ),
        # after multi-line strings holding lines that look like keys and headers
        (
            '[account]\nuri = "sip:a@b.org"\npassword = """\ntransport = "udp"\n[log]\n"""\n'
            'transport = "sctp"\n',
            "account.transport",
            7,
        ),
        (
            "[account]\nuri = \"sip:a@b.org\"\npassword = '''\ntransport = \"udp\"\n'''\n"
            'transport = "sctp"\n',
            "account.transport",
            6,
        ),
        (
            '[account]\nuri = "sip:a@b.org"\npassword = """a \\"""\nexpires = 1\n""\n"""""\n'
            "expires = 5\n",
            "account.expires",
            7,
        ),
        (
            '[account]\nuri = "sip:a@b.org"\n'
            'password = """\\\n  expires = 1 \\\n"""\nexpires = 5\n',
            "account.expires",
            6,
        ),
        # an inline table, on one line and (TOML 1.0 forbids more) as a value of a key
        (
            'account = { uri = "sip:a@b.org", password = "x", transport = "sctp" }\n',
            "account.transport",
            1,
        ),
        # the same key name in an earlier section, CRLF line ends
        (
            '[log]\r\nlevel = "info"\r\n[account]\r\nuri = "sip:a@b.org"\r\n'
            'password = "x"\r\n[timers]\r\nt1 = "x"\r\n',
            "timers.t1",
            7,
        ),
        # [network] before [account], arrays and comments in between
        (
            '[network]\ndns_servers = [ # servers\n  "192.0.2.1", # one\n  # none\n]\n'
            '[account]\nuri = "sip:a@b.org"\npassword = "x"\nexpires = [1, [2, 3]]\n',
            "account.expires",
            9,
        ),
    ],
)
def test_line_numbers(text: str, key: str, line: int) -> None:
    error = error_of(text)
    assert (error.key, error.line) == (key, line)


def leaf_paths(value: object, path: KeyPath = ()) -> list[KeyPath]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in leaf_paths(item, (*path, key))]
    if isinstance(value, list):
        return [
            leaf for index, item in enumerate(value) for leaf in leaf_paths(item, (*path, index))
        ]
    return [path]


HAIRY_TOML = '''\
# every form the scanner must get through
title = "TOML \\"Example\\" # not a comment"
"quoted.key" = 1
'literal key' = 2
dotted . "and quoted" . bare = 3
integers = [ 1, 2, 0x1F, 0o7, 0b1, +5, -3, 1_000 ]
floats = [ 1.5, -0.0, 6.02e23, inf, -nan ]
dates = [ 1979-05-27T07:32:00Z, 1979-05-27 07:32:00-08:00, 1979-05-27, 07:32:00 ]
when = 1979-05-27 00:32:00.999999   # a space inside the value
nested = [ [ 1, 2 ], [ "a", 'b' ], [ { x = 1 }, { y = [ 2 ] } ] ]
multi = """
[not.a.table]
key = "no" """
literal = \'\'\'
also = 'no'
\'\'\'
quotes = """ "" \\""" ""\"""
inline = { a = 1, b.c = { d = "}" }, "e f" = [ "]" ] }

[table."with.dots"]
key = true

[[fruits]]
name = "apple"
[fruits.physical]
color = "red"
[[fruits.varieties]]
name = "red delicious"
[[fruits.varieties]]
name = "granny smith"

[[fruits]]
name = "banana"
[[fruits.varieties]]
name = "plantain"
'''


def test_the_scanner_finds_every_key_tomllib_reads() -> None:
    lines = KeyLines.scan(HAIRY_TOML)
    for path in leaf_paths(tomllib.loads(HAIRY_TOML)):
        assert path in lines, format_key(path)
    source = HAIRY_TOML.splitlines()
    expected = {
        ("title",): "title = ",
        ("quoted.key",): '"quoted.key"',
        ("dotted", "and quoted", "bare"): "dotted .",
        ("when",): "when =",
        ("quotes",): "quotes =",
        ("inline", "b", "c", "d"): "inline =",
        ("table", "with.dots", "key"): "key = true",
        ("fruits",): "[[fruits]]",
        ("fruits", 0, "physical", "color"): 'color = "red"',
        ("fruits", 0, "varieties", 1, "name"): 'name = "granny smith"',
        ("fruits", 1, "name"): 'name = "banana"',
        ("fruits", 1, "varieties", 0, "name"): 'name = "plantain"',
    }
    for path, start in expected.items():
        line = lines.line_of(path)
        assert line is not None and source[line - 1].startswith(start), (path, line)
    assert ("multi",) in lines and ("not", "a", "table") not in lines
    assert ("also",) not in lines


def test_line_of_falls_back_to_the_enclosing_table() -> None:
    lines = KeyLines.scan("[a]\nx = 1\n[a.b]\ny = 2\n")
    assert lines.line_of(("a", "b", "missing")) == 3
    assert lines.line_of(("a", "missing")) == 1
    assert lines.line_of(("nowhere", "missing")) is None


# -- syntax errors, files, the format of the message -------------------------------------


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[account\nuri = 1\n", 1),
        ('[account]\nuri = "sip:a@b.org\n', 2),
        ("[log]\nlevel = 'a'\nlevel = 'b'\n", 3),
        ("[log]\n\nlevel = \n", 3),
        ("[log]\nlevel = info\n", 2),
        ('[log]\nlevel = """abc\n\n', 2),
    ],
)
def test_toml_syntax_errors_give_the_line(text: str, line: int) -> None:
    error = error_of(text)
    assert error.key is None and error.line == line
    assert re.fullmatch(
        rf"config error: line {line}(, column \d+)?: invalid TOML: \S.*", str(error)
    )


def test_messages_stay_on_one_line() -> None:
    text, line = document("account", "transport", '"a\\nb\\rc"')
    assert str(error_of(text)) == (
        f"config error: account.transport (line {line}): "
        'must be one of udp, tcp, tls, not "a\\nb\\rc"'
    )
    assert str(ConfigError("two\nlines", key="a.b")) == "config error: a.b: two\\nlines"


def test_config_error_formats() -> None:
    assert str(ConfigError("broken")) == "config error: broken"
    assert str(ConfigError("broken", line=3)) == "config error: line 3: broken"
    assert str(ConfigError("broken", line=3, column=4)) == "config error: line 3, column 4: broken"
    assert str(ConfigError("broken", key="log.level")) == "config error: log.level: broken"
    error = ConfigError("broken", key="log.level", line=9)
    assert str(error) == "config error: log.level (line 9): broken"
    assert (error.problem, error.key, error.line, error.others) == ("broken", "log.level", 9, ())


def test_long_values_are_shortened() -> None:
    text, _ = document("log", "level", '"' + "x" * 500 + '"')
    assert len(str(error_of(text))) < 200


def test_load_config_errors(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert str(info.value) == f"config error: cannot read {missing}: No such file or directory"
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'[log]\nlevel = "info"\n# caf\xe9\n')
    with pytest.raises(ConfigError) as info:
        load_config(binary)
    assert str(info.value) == f"config error: line 3: {binary} is not UTF-8 text"


def test_load_config_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + default_config_text().encode())
    assert load_config(path).account.username == "alice"


def test_the_scanner_keeps_what_it_found_when_lost() -> None:
    lines = KeyLines.scan("a = 1\n@@@ = 2\nb = 3\n")  # not TOML: tomllib would refuse it first
    assert lines.line_of(("a",)) == 1
    assert ("b",) not in lines


def test_dtls_keying_needs_a_suite_with_a_dtls_profile() -> None:
    text = document("media", "srtp_keying", '"dtls"')[0]
    text += 'srtp_suites = ["AES_256_CM_HMAC_SHA1_80"]\n'
    message = str(error_of(text))
    assert message.startswith("config error: media.srtp_keying")
    assert "DTLS-SRTP needs one of AEAD_AES_128_GCM" in message
