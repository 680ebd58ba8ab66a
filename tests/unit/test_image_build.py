"""image/: the SD-card image build, checked as far as a machine without an SD card can.

The build itself needs root, loop devices, the official image and emulation, so CI only
parses and lints its scripts (``bash -n``, ``shellcheck``: scripts/test installs it),
checks its argument handling, verifies the first-boot unit with ``systemd-analyze`` and runs
the first-boot script for real on temporary directories standing in for the boot
partition and /etc/phoneagent.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO_ROOT

IMAGE = REPO_ROOT / "image"
SCRIPTS = [IMAGE / "build", IMAGE / "provision", IMAGE / "phoneagent-firstboot"]
FIRSTBOOT_UNIT = IMAGE / "phoneagent-firstboot.service"
INSTALLED_FIRSTBOOT = "/usr/local/sbin/phoneagent-firstboot"

GOOD = """\
[account]
uri = "sip:alice@example.org"
password = "secret"
"""

BAD = """\
[account]
uri = "sip:alice@example.org"
password = "secret"
transport = "sctp"
"""


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: apt-get install {name} (scripts/test does)")
    return path


def run(
    *command: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


# -- the scripts --------------------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_is_executable_and_parses(script: Path) -> None:
    assert script.stat().st_mode & stat.S_IXUSR, f"{script} is not executable"
    assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    result = run("bash", "-n", script)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_is_shellcheck_clean(script: Path) -> None:
    result = run(tool("shellcheck"), "--shell=bash", "--severity=style", script)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_script_is_strict(script: Path) -> None:
    assert "\nset -euo pipefail\n" in script.read_text(encoding="utf-8")


def test_build_cleans_up_whatever_happens() -> None:
    text = (IMAGE / "build").read_text(encoding="utf-8")
    assert "trap cleanup EXIT" in text
    cleanup = text[text.index("cleanup() {") : text.index("trap cleanup EXIT")]
    assert "umount" in cleanup
    assert "losetup -d" in cleanup


def test_build_help() -> None:
    result = run(IMAGE / "build", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("sudo image/build [--sha256 HEX]")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((), "which image? (a .img.xz file or its URL)"),
        (("--sha256", "abc", "os.img.xz"), "--sha256 must be 64 hex digits"),
        (("--frobnicate", "os.img.xz"), "unknown option --frobnicate"),
        (("a.img.xz", "b.img.xz"), "one image only, not also b.img.xz"),
        (("--overlay", "x; rm -rf /", "os.img.xz"), "not an overlay name: x; rm -rf /"),
        (("--config", "/nonexistent/phoneagent.toml", "os.img.xz"), "no such config file"),
    ],
)
def test_build_refuses_bad_arguments_before_touching_anything(
    arguments: tuple[str, ...], message: str
) -> None:
    result = run(IMAGE / "build", *arguments)
    assert result.returncode == 1
    assert f"image/build: {message}" in result.stderr


# -- the first-boot unit ------------------------------------------------------------------------


def test_firstboot_unit_verifies(tmp_path: Path) -> None:
    text = FIRSTBOOT_UNIT.read_text(encoding="utf-8")
    assert f"ExecStart={INSTALLED_FIRSTBOOT}\n" in text
    assert "Before=phoneagent.service\n" in text
    assert "ConditionPathExists=/boot/firmware/phoneagent.toml\n" in text
    # As for phoneagent.service: the installed path does not exist here, the repository's does.
    copy = tmp_path / FIRSTBOOT_UNIT.name
    copy.write_text(
        text.replace(INSTALLED_FIRSTBOOT, str(IMAGE / "phoneagent-firstboot")), encoding="utf-8"
    )
    result = run(tool("systemd-analyze"), "verify", "--man=no", copy)
    assert result.returncode == 0, result.stderr
    assert result.stdout + result.stderr == ""


def test_provision_installs_what_the_build_stages() -> None:
    provision = (IMAGE / "provision").read_text(encoding="utf-8")
    build = (IMAGE / "build").read_text(encoding="utf-8")
    for name in (
        "phoneagent.service",
        "phoneagent-firstboot.service",
        "phoneagent-firstboot",
        "README.md",
    ):
        assert f'"$staging/{name}"' in provision, name
        assert f"/{name}" in build, name
    assert "systemctl enable phoneagent.service phoneagent-firstboot.service" in provision


# -- the first-boot script, run for real --------------------------------------------------------


@pytest.fixture
def firstboot(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A boot partition and /etc/phoneagent in tmp_path, and the script's environment."""
    if os.geteuid() != 0:
        # It is a boot-time script that chowns to the phone's user; CI runs as root.
        pytest.skip("the first-boot script needs root (install -o root, chown)")
    boot = tmp_path / "boot"
    boot.mkdir()
    etc = tmp_path / "etc" / "phoneagent"
    environment = dict(
        os.environ,
        PHONEAGENT_BOOT=str(boot),
        PHONEAGENT_ETC=str(etc),
        PHONEAGENT_BIN=str(Path(sys.executable).parent / "phoneagent"),
        PHONEAGENT_USER="root",  # the test's own user: no runuser
    )
    return boot, etc, environment


def test_firstboot_installs_a_valid_config(firstboot: tuple[Path, Path, dict[str, str]]) -> None:
    boot, etc, environment = firstboot
    (boot / "phoneagent.toml").write_text(GOOD, encoding="utf-8")
    (boot / "phoneagent-error.txt").write_text("an old complaint\n", encoding="utf-8")
    result = run(IMAGE / "phoneagent-firstboot", env=environment)
    assert result.returncode == 0, result.stderr
    installed = etc / "phoneagent.toml"
    assert installed.read_text(encoding="utf-8") == GOOD
    assert stat.S_IMODE(installed.stat().st_mode) == 0o600
    assert stat.S_IMODE(etc.stat().st_mode) == 0o750
    assert sorted(path.name for path in etc.iterdir()) == ["phoneagent.toml"]
    assert list(boot.iterdir()) == [], "the password must not stay on the FAT partition"
    assert f"installed {installed}: ok: {installed} is valid" in result.stderr


def test_firstboot_keeps_the_old_config_when_the_new_one_is_bad(
    firstboot: tuple[Path, Path, dict[str, str]],
) -> None:
    boot, etc, environment = firstboot
    etc.mkdir(parents=True)
    (etc / "phoneagent.toml").write_text(GOOD, encoding="utf-8")
    (boot / "phoneagent.toml").write_text(BAD, encoding="utf-8")
    result = run(IMAGE / "phoneagent-firstboot", env=environment)
    assert result.returncode == 1
    assert (etc / "phoneagent.toml").read_text(encoding="utf-8") == GOOD
    assert sorted(path.name for path in etc.iterdir()) == ["phoneagent.toml"]
    assert (boot / "phoneagent.toml").read_text(encoding="utf-8") == BAD  # to correct
    report = (boot / "phoneagent-error.txt").read_text(encoding="utf-8")
    assert "was NOT installed" in report
    assert "config error: account.transport (line 4)" in report
    assert ".phoneagent.toml." not in report, "the temporary file's name leaked"
    assert "rejected" in result.stderr


def test_firstboot_without_a_file_does_nothing(
    firstboot: tuple[Path, Path, dict[str, str]],
) -> None:
    boot, etc, environment = firstboot
    result = run(IMAGE / "phoneagent-firstboot", env=environment)
    assert result.returncode == 0, result.stderr
    assert not etc.exists()
    assert list(boot.iterdir()) == []
