"""Benchmark: phoneagent's SRTP against libsrtp (through pylibsrtp), in the same run.

How to run (from the repository root)::

    .venv/bin/pip install pylibsrtp                      # optional: the libsrtp column
    .venv/bin/python tests/bench/bench_srtp.py           # full run, about 6 s
    .venv/bin/python tests/bench/bench_srtp.py --quick   # smoke run, about 1 s

This is a script that prints figures, not a pytest test.  For every suite it
measures the cost of one ``protect_rtp`` followed by one ``unprotect_rtp`` of a
172-octet RTP packet (12-octet header, 160 octets of G.711 payload: 20 ms of a
narrow-band call), in microseconds per packet, and the same for an SRTCP
sender report (``protect_rtcp`` + ``unprotect_rtcp``).  Each repeat runs a
fresh sender and receiver over a list of packets with consecutive sequence
numbers (so the replay window and the rollover counter do their real work,
crossing a sequence wrap); best and median of the repeats are printed, with the
garbage collector disabled while timing.  libsrtp's figures are for the suites
pylibsrtp exposes (AES_CM_128_HMAC_SHA1_80/_32 and the two GCM suites) and, for the
AES-192/256 counter-mode suites, from the same libsrtp (Debian's libsrtp2) through the
ctypes binding the tests use.

PEERS.md's reference on this kind of machine: libsrtp 4.0 µs and a
persistent-context ``cryptography`` implementation 6.4 µs for
AES_CM_128_HMAC_SHA1_80; the machine's speed drifts ±30 %, so compare within
one run.
"""

from __future__ import annotations

import argparse
import gc
import platform
import statistics
import struct
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from phoneagent.media.srtp import SUITES, SrtpPolicy, SrtpSession

PACKETS = 4000
SSRC = 0x1234_5678
LIBSRTP_PROFILES = {
    "AES_CM_128_HMAC_SHA1_80": "SRTP_PROFILE_AES128_CM_SHA1_80",
    "AES_CM_128_HMAC_SHA1_32": "SRTP_PROFILE_AES128_CM_SHA1_32",
    "AEAD_AES_128_GCM": "SRTP_PROFILE_AEAD_AES_128_GCM",
    "AEAD_AES_256_GCM": "SRTP_PROFILE_AEAD_AES_256_GCM",
}

# (protect, unprotect) for RTP and for RTCP, fresh per repeat.
Pair = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]
Factory = Callable[[], tuple[Pair, Pair]]


def rtp_packets(count: int) -> list[bytes]:
    """172-octet RTP packets, consecutive sequence numbers crossing a wrap."""
    payload = bytes(range(160))
    first = 65536 - count // 2
    return [
        struct.pack("!BBHII", 0x80, 0, (first + n) & 0xFFFF, n * 160, SSRC) + payload
        for n in range(count)
    ]


def rtcp_packets(count: int) -> list[bytes]:
    """28-octet RTCP sender reports (RFC 3550 §6.4.1)."""
    return [
        struct.pack("!BBHIQIII", 0x80, 200, 6, SSRC, n, n * 160, n, n * 160) for n in range(count)
    ]


def ours(policy: SrtpPolicy) -> Factory:
    def make() -> tuple[Pair, Pair]:
        sender, receiver = SrtpSession(policy), SrtpSession(policy)
        return (
            (sender.protect_rtp, receiver.unprotect_rtp),
            (sender.protect_rtcp, receiver.unprotect_rtcp),
        )

    return make


def libsrtp(policy: SrtpPolicy, profile_name: str) -> Factory | None:
    try:
        import pylibsrtp
    except ImportError:
        return None
    profile = getattr(pylibsrtp.Policy, profile_name)
    key = policy.master_key + policy.master_salt

    def make() -> tuple[Pair, Pair]:
        lib_policy = pylibsrtp.Policy
        sender = pylibsrtp.Session(
            lib_policy(key=key, ssrc_type=lib_policy.SSRC_ANY_OUTBOUND, srtp_profile=profile)
        )
        receiver = pylibsrtp.Session(
            lib_policy(key=key, ssrc_type=lib_policy.SSRC_ANY_INBOUND, srtp_profile=profile)
        )
        return (sender.protect, receiver.unprotect), (sender.protect_rtcp, receiver.unprotect_rtcp)

    return make


def libsrtp_ctypes(policy: SrtpPolicy) -> Factory | None:
    """Debian's libsrtp2 through ctypes, for the suites pylibsrtp does not expose."""
    try:
        from tests.libsrtp_ctypes import CRYPTO_POLICY_SETTERS, LibsrtpSession, load

        load()
    except (ImportError, OSError, RuntimeError):
        return None
    name = policy.suite.name
    if name not in CRYPTO_POLICY_SETTERS:
        return None

    def make() -> tuple[Pair, Pair]:
        sender = LibsrtpSession(name, policy.master_key, policy.master_salt, outbound=True)
        receiver = LibsrtpSession(name, policy.master_key, policy.master_salt, outbound=False)
        return (sender.protect, receiver.unprotect), (sender.protect_rtcp, receiver.unprotect_rtcp)

    return make


def measure(factory: Factory, packets: list[bytes], repeats: int, rtcp: bool) -> list[float]:
    """Microseconds per protect + unprotect, one figure per repeat."""
    results = []
    for _ in range(repeats):
        rtp_pair, rtcp_pair = factory()
        protect, unprotect = rtcp_pair if rtcp else rtp_pair
        # Check once, outside the timing, that the round trip is right.
        assert unprotect(protect(packets[0])) == packets[0]
        rtp_pair, rtcp_pair = factory()
        protect, unprotect = rtcp_pair if rtcp else rtp_pair
        gc.disable()
        try:
            start = time.perf_counter()
            for packet in packets:
                unprotect(protect(packet))
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        results.append(elapsed / len(packets) * 1e6)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (smoke run)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 15

    import cryptography

    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"cryptography {cryptography.__version__}",
        end="",
    )
    try:
        import pylibsrtp

        print(f", pylibsrtp {pylibsrtp.__version__}")
    except ImportError:
        print("\npylibsrtp is not installed (.venv/bin/pip install pylibsrtp): no libsrtp column")
    print(f"µs per protect + unprotect, best / median of {repeats} runs of {PACKETS} packets")
    print(f"{'suite':<26} {'what':<14} {'phoneagent':>18} {'libsrtp':>18}")
    rtp, rtcp = rtp_packets(PACKETS), rtcp_packets(PACKETS)
    for name in SUITES:
        policy = SrtpPolicy.generate(name)
        profile = LIBSRTP_PROFILES.get(name)
        reference = libsrtp(policy, profile) if profile else libsrtp_ctypes(policy)
        for what, packets, is_rtcp in (("RTP 172 B", rtp, False), ("RTCP SR 28 B", rtcp, True)):
            cells = []
            for factory in (ours(policy), reference):
                if factory is None:
                    cells.append(f"{'-':>18}")
                    continue
                times = measure(factory, packets, repeats, is_rtcp)
                cells.append(f"{min(times):8.2f} / {statistics.median(times):7.2f}")
            print(f"{name:<26} {what:<14} {cells[0]} {cells[1]}")


if __name__ == "__main__":
    main()
