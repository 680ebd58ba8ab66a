"""Bounded fuzz run: mutated SDP bodies parse, or are rejected with RemoteProtocolError.

The invariant (DESIGN.md principle 5) covers everything network SDP reaches:
``SessionDescription.parse``, every typed view of what it accepted, answering
it as an offer and checking it as an answer.  Each either works or raises
``RemoteProtocolError`` — never anything else.  A description that parsed
parses again, equal, from its own ``bytes()``.

The mutator is seeded (seed and case number are in every failure) and knows the
characters SDP's grammar cares about.  ``PHONEAGENT_SDP_FUZZ_CASES`` sets the
count (50,000 by default: a few seconds).
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable

import pytest

from phoneagent.sdp import (
    MediaPolicy,
    SessionDescription,
    answer_offer,
    build_offer,
    process_answer,
)
from phoneagent.sip.errors import RemoteProtocolError
from tests.mutator import mutate
from tests.unit.sdp.samples import CORPUS_SDP, REAL_WORLD, corpus_sdp

CASES = int(os.environ.get("PHONEAGENT_SDP_FUZZ_CASES", "50000"))
SEED = int(os.environ.get("PHONEAGENT_FUZZ_SEED", "20261123"))
POLICY = MediaPolicy()
OUR_OFFER = build_offer(POLICY, "192.0.2.10", 4000, 1, 1)

INTERESTING = [
    b"\r\n", b"\n", b"\r", b" ", b"  ", b"\t", b"=", b":", b"/", b"\x00", b"\xff", b"\xc3\xa9",
    b"v=0\r\n", b"m=audio 0 RTP/AVP 0\r\n", b"m=video 9 RTP/AVP 96\r\n", b"c=IN IP4 0.0.0.0\r\n",
    b"c=IN IP6 ::\r\n", b"c=IN IP4 224.0.0.1/1/2\r\n", b"a=sendonly\r\n", b"a=recvonly\r\n",
    b"a=inactive\r\n", b"a=rtpmap:", b"a=fmtp:", b"a=ptime:", b"a=rtcp:", b"a=crypto:",
    b"a=rtcp:65535", b"a=ptime:0", b"a=ptime:22.5", b"a=maxptime:10", b"telephone-event/8000",
    b"PCMU/8000", b"PCMA/8000/2", b"RTP/SAVP", b"udptl", b"65535", b"65536", b"127", b"128",
    b"9" * 70, b"-1", b"0",
]  # fmt: skip


def seeds() -> list[bytes]:
    return [corpus_sdp(*key) for key in sorted(CORPUS_SDP)] + list(REAL_WORLD.values())


def quietly(read: Callable[..., object], *arguments: object) -> None:
    with contextlib.suppress(RemoteProtocolError):
        read(*arguments)


def exercise(description: SessionDescription) -> None:
    """Touch what offer/answer and the media layer touch."""
    assert SessionDescription.parse(bytes(description)) == description
    quietly(getattr, description, "direction")
    for media in description.media:
        quietly(description.media_direction, media)
        quietly(description.media_connection, media)
        for view in ("direction", "ptime", "maxptime", "rtcp", "rtcp_mux", "crypto"):
            quietly(getattr, media, view)
        if media.is_rtp:
            for payload_type in media.payload_types:
                quietly(media.rtpmap, payload_type)
                quietly(media.fmtp, payload_type)
    with contextlib.suppress(RemoteProtocolError):
        answer, negotiated = answer_offer(description, POLICY, "192.0.2.20", 5000, 2, 2)
        assert len(answer.media) == len(description.media)
        if negotiated is not None:
            # our own answer must satisfy the offer it answers
            mirrored = process_answer(description, answer)
            assert mirrored.payload_type == negotiated.payload_type
    with contextlib.suppress(RemoteProtocolError):
        process_answer(OUR_OFFER, description)


def run_one(data: bytes) -> bool:
    try:
        description = SessionDescription.parse(data)
    except RemoteProtocolError as error:
        assert error.status_hint == 400
        return False
    exercise(description)
    return True


def check(case: int, data: bytes) -> bool:
    try:
        return run_one(data)
    except Exception as error:  # the invariant under test: nothing else may escape
        raise AssertionError(
            f"case {case} (seed {SEED}): {type(error).__name__}: {error} on input {data!r}"
        ) from error


@pytest.mark.fuzz
def test_mutated_bodies_parse_or_raise_remote_protocol_error() -> None:
    rng = random.Random(SEED)
    pool = seeds()
    parsed = 0
    for case in range(CASES):
        parsed += check(case, mutate(rng.choice(pool), rng, pool, INTERESTING))
    print(f"sdp fuzz: {CASES} inputs, {parsed} parsed (seed {SEED})")
    # A mutator that broke everything (or nothing) would test little.
    assert CASES // 20 < parsed < CASES - CASES // 20, parsed


@pytest.mark.fuzz
def test_every_seed_runs_clean() -> None:
    for case, data in enumerate(seeds()):
        check(case, data)
