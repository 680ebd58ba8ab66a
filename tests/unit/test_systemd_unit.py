"""systemd/phoneagent.service: valid for systemd, hardened, and still able to run the phone.

``systemd-analyze`` works on a unit file that is not installed, even where PID 1 is not
systemd (scripts/test installs the ``systemd`` package).  The unit's ExecStart names the
Pi image's /opt/phoneagent/venv, absent here, so verification runs on a copy pointing at
this venv's ``phoneagent`` script.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

UNIT = REPO_ROOT / "systemd" / "phoneagent.service"
INSTALLED_EXECUTABLE = "/opt/phoneagent/venv/bin/phoneagent"
#: `systemd-analyze security` scores 0 (locked down) .. 10 (exposed); this unit scores 1.5 on
#: systemd 252.  A change that loosens it past this bound must say why, here.
MAX_EXPOSURE = 2.0


def systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.fail("systemd-analyze is missing: apt-get install systemd (scripts/test does)")
    return path


def settings(path: Path) -> dict[str, dict[str, list[str]]]:
    """``{section: {key: [values, in order]}}``; systemd keys may repeat, unlike INI's."""
    result: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, separator, value = line.partition("=")
        assert separator, f"not a key=value line: {raw!r}"
        result[section][key.strip()].append(value.strip())
    return result


def one(unit: dict[str, dict[str, list[str]]], section: str, key: str) -> str:
    values = unit[section][key]
    assert len(values) == 1, f"{section}.{key}: {values}"
    return values[0]


def runnable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at an executable that exists on this machine."""
    executable = Path(sys.executable).parent / "phoneagent"
    assert executable.exists(), f"{executable}: install the project into the venv"
    text = UNIT.read_text(encoding="utf-8")
    assert INSTALLED_EXECUTABLE in text
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(INSTALLED_EXECUTABLE, str(executable)), encoding="utf-8")
    return copy


def test_unit_verifies(tmp_path: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", str(runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == "", "verify warns: " + result.stderr


def test_verify_only_misses_the_image_venv(tmp_path: Path) -> None:
    """The unit as shipped fails verification here for one reason only: no /opt venv."""
    if Path(INSTALLED_EXECUTABLE).exists():
        pytest.skip(f"{INSTALLED_EXECUTABLE} exists on this machine")
    copy = tmp_path / UNIT.name
    shutil.copyfile(UNIT, copy)
    result = subprocess.run(
        [systemd_analyze(), "verify", "--man=no", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"phoneagent.service: Command {INSTALLED_EXECUTABLE} is not executable: "
        "No such file or directory"
    ]


def test_exposure_is_low(tmp_path: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=true", str(runnable_copy(tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(
        r"Overall exposure level for phoneagent\.service: (\d+\.\d+) (\w+)", result.stdout
    )
    assert match, result.stdout
    exposure, verdict = float(match[1]), match[2]
    assert exposure <= MAX_EXPOSURE, result.stdout
    assert verdict == "OK"


def test_the_phone_can_reach_its_hardware_and_state() -> None:
    unit = settings(UNIT)
    service = unit["Service"]
    assert one(unit, "Service", "Type") == "exec"  # no sd_notify READY=1 from the phone
    assert one(unit, "Service", "ExecStart") == (
        f"{INSTALLED_EXECUTABLE} run --config /etc/phoneagent/phoneagent.toml"
    )
    assert one(unit, "Service", "User") == "phoneagent"
    assert set(one(unit, "Service", "SupplementaryGroups").split()) == {"gpio", "audio", "dialout"}
    assert one(unit, "Service", "StateDirectory") == "phoneagent"  # /var/lib/phoneagent
    # lgpio makes FIFOs in its working directory: it must be writable under ProtectSystem.
    assert one(unit, "Service", "RuntimeDirectory") == "phoneagent"
    assert one(unit, "Service", "WorkingDirectory") == "/run/phoneagent"
    assert one(unit, "Service", "DevicePolicy") == "closed"
    allowed = {value.split()[0]: value.split()[1] for value in service["DeviceAllow"]}
    assert allowed == {
        "char-gpiochip": "rw",  # /dev/gpiochip*
        "char-alsa": "rw",  # /dev/snd/*
        "char-ttyAMA": "rw",  # /dev/serial0 -> ttyAMA0
        "char-ttyS": "rw",  # /dev/serial0 -> ttyS0 (mini UART)
    }
    assert "PrivateDevices" not in service  # it would hide the nodes DeviceAllow grants
    assert "ProcSubset" not in service  # ALSA reads /proc/asound
    families = one(unit, "Service", "RestrictAddressFamilies").split()
    assert set(families) == {"AF_INET", "AF_INET6", "AF_UNIX", "AF_NETLINK"}


def test_restart_and_stop_policy() -> None:
    unit = settings(UNIT)
    assert one(unit, "Service", "Restart") == "on-failure"
    assert one(unit, "Service", "RestartSec") == "2"
    assert one(unit, "Service", "TimeoutStopSec") == "10"  # time to unregister on SIGTERM
    assert one(unit, "Service", "StandardError") == "journal"
    assert one(unit, "Install", "WantedBy") == "multi-user.target"
    for key in (
        "NoNewPrivileges",
        "ProtectHome",
        "PrivateTmp",
        "ProtectKernelTunables",
        "ProtectControlGroups",
    ):
        assert one(unit, "Service", key) == "yes", key
    assert one(unit, "Service", "ProtectSystem") == "strict"


def test_restart_prevent_status_is_the_config_error_status() -> None:
    from phoneagent.cli import EXIT_CONFIG_ERROR

    assert one(settings(UNIT), "Service", "RestartPreventExitStatus") == str(EXIT_CONFIG_ERROR)
