"""Bounded fuzz run: mutated SIP messages are parsed, or rejected with RemoteProtocolError.

The invariant (DESIGN.md principle 5): whatever bytes arrive, ``parse_message``
either returns a message or raises ``RemoteProtocolError`` — never anything
else — and the same holds for every typed accessor of a message it accepted,
for serialising it, for the 400 built from a rejection, and for the stream
decoder fed the same bytes.  A message that parsed also parses again after
``bytes()``.

The mutator is a seeded byte-level one (reproducible: the seed and the case
number are in every failure message), seeded with the RFC 4475 and RFC 5118
torture messages and a handful of everyday messages, and it knows the
characters SIP's grammar cares about.  The run is bounded in count: 100,000
inputs by default, ``PHONEAGENT_FUZZ_CASES`` to change it.
"""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable

import pytest

from phoneagent.sip import (
    LocalProtocolError,
    Message,
    RemoteProtocolError,
    Request,
    StreamDecoder,
    TypedHeader,
    make_error_response,
    make_response,
    parse_datagram,
    parse_message,
)
from tests.helpers import CORPUS, lf_to_crlf
from tests.mutator import mutate

CASES = int(os.environ.get("PHONEAGENT_FUZZ_CASES", "100000"))
SEED = int(os.environ.get("PHONEAGENT_FUZZ_SEED", "20261123"))

#: Fragments the grammar gives meaning to; inserting them finds the parser's seams.
INTERESTING = [
    b"\r\n",
    b"\r\n ",
    b"\r",
    b"\n",
    b"\r\n\r\n",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"=",
    b"@",
    b"<",
    b">",
    b'"',
    b"\\",
    b"%",
    b"%0",
    b"%00",
    b"[",
    b"]",
    b"::",
    b"/",
    b"?",
    b"&",
    b"*",
    b"\x00",
    b"\xff",
    b"\xc3\xa9",
    b"sip:",
    b"sips:",
    b"tel:",
    b"SIP/2.0",
    b"SIP/2.0/UDP ",
    b";tag=",
    b";branch=z9hG4bK",
    b";received=",
    b";rport",
    b";maddr=",
    b";ttl=",
    b";q=",
    b";expires=",
    b"Content-Length: ",
    b"l: ",
    b"Via: ",
    b"v: ",
    b"Contact: *",
    b"CSeq: ",
    b"4294967296",
    b"99999999999999999999",
    b"-1",
    b"0",
    b"65536",
    b"[::1]",
    b"[2001:db8:::1]",
    b"Digest realm=",
    b'"unterminated',
    b"Date: Fri, 01 Jan 2010 16:00:00 EST",
]

EVERYDAY = [
    b"INVITE sip:bob@127.0.0.1:5062 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n"
    b"Max-Forwards: 70\r\nTo: Bob <sip:bob@example.com>\r\n"
    b'From: "Alice" <sip:alice@example.com>;tag=1928301774\r\n'
    b"Call-ID: a84b4c76e66710@127.0.0.1\r\nCSeq: 314159 INVITE\r\n"
    b"Contact: <sip:alice@127.0.0.1:5060>"
    b';+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>"\r\n'
    b"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\nSupported: replaces, timer\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 31\r\n\r\n"
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n",
    b"SIP/2.0 401 Unauthorized\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnashds7;received=127.0.0.1;rport=5060\r\n"
    b"From: <sip:alice@example.com>;tag=456248\r\nTo: <sip:alice@example.com>;tag=2493k59kd\r\n"
    b"Call-ID: 843817637684230@998sdasdh09\r\nCSeq: 1826 REGISTER\r\n"
    b'WWW-Authenticate: Digest realm="example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359",'
    b' algorithm=SHA-256, qop="auth,auth-int", opaque="", stale=FALSE\r\n'
    b"Retry-After: 120 (maintenance);duration=60\r\nContent-Length: 0\r\n\r\n",
    b"REGISTER sip:example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP [2001:db8::1]:5060;branch=z9hG4bK-reg-1\r\n"
    b"From: <sip:alice@example.com>;tag=a1\r\nTo: <sip:alice@example.com>\r\n"
    b"Call-ID: reg-1@[2001:db8::1]\r\nCSeq: 2 REGISTER\r\n"
    b"Contact: <sip:alice@[2001:db8::1]:5060;transport=tcp>;expires=600;q=0.7, *\r\n"
    b'Expires: 600\r\nEvent: reg;id=7\r\nReason: Q.850;cause=16;text="Normal"\r\n'
    b"Route: <sip:proxy.example.com;lr>, <sip:[::1]:5070;lr>\r\n"
    b'Authorization: Digest username="alice", realm="example.com", nonce="x",'
    b' uri="sip:example.com", response="0123", nc=00000001, cnonce="c", qop=auth\r\n'
    b"Content-Length: 0\r\n\r\n",
]


def seeds() -> list[bytes]:
    corpus = [path.read_bytes() for path in sorted((CORPUS / "rfc4475").glob("*.dat"))]
    ipv6 = [
        lf_to_crlf(path.read_bytes())
        for path in sorted((CORPUS / "rfc5118").iterdir())
        if path.suffix == ""
    ]
    assert len(corpus) == 50 and len(ipv6) == 12, "the torture corpus is missing"
    return corpus + ipv6 + EVERYDAY


ACCESSORS = [
    name
    for name, value in vars(Message).items()
    if isinstance(value, (TypedHeader, property)) and not name.startswith("_")
]


def exercise(message: Request | object) -> None:
    """Touch everything a layer above might touch."""
    assert isinstance(message, Message)
    for name in ACCESSORS:
        with contextlib.suppress(RemoteProtocolError):
            getattr(message, name)
    if isinstance(message, Request):
        with contextlib.suppress(RemoteProtocolError):
            _ = message.uri
        # LocalProtocolError: e.g. a header value the response cannot carry
        with contextlib.suppress(LocalProtocolError):
            bytes(make_response(message, 200, to_tag="fz"))
    again = parse_message(bytes(message))
    assert again.body == message.body


def run_one(data: bytes) -> bool:
    """Feed ``data`` everywhere; True when it parsed as a message."""
    parsed = False
    try:
        message = parse_datagram(data)
    except RemoteProtocolError as error:
        answer = make_error_response(error, to_tag="fz")
        if answer is not None:
            bytes(answer)
    else:
        if isinstance(message, Message):
            parsed = True
            exercise(message)
    decoder = StreamDecoder(max_message_size=4096)
    try:
        for start in range(0, len(data), 97):
            decoder.receive_data(data[start : start + 97])
            while decoder.next_event() is not None:
                pass
    except RemoteProtocolError:
        pass
    return parsed


def check(case: int, data: bytes, action: Callable[[bytes], bool]) -> bool:
    try:
        return action(data)
    except RemoteProtocolError:
        raise AssertionError(f"case {case} (seed {SEED}): RemoteProtocolError escaped") from None
    except Exception as error:  # the invariant under test: nothing else may escape
        raise AssertionError(
            f"case {case} (seed {SEED}): {type(error).__name__}: {error} on input {data!r}"
        ) from error


@pytest.mark.fuzz
def test_mutated_messages_parse_or_raise_remote_protocol_error() -> None:
    rng = random.Random(SEED)
    pool = seeds()
    parsed = rejected = 0
    for case in range(CASES):
        data = mutate(rng.choice(pool), rng, pool, INTERESTING)
        if check(case, data, run_one):
            parsed += 1
        else:
            rejected += 1
    assert parsed + rejected == CASES
    # A mutator that broke everything (or nothing) would test little.
    print(f"fuzz: {CASES} inputs, {parsed} parsed, {rejected} rejected (seed {SEED})")
    assert parsed > CASES // 20 and rejected > CASES // 20, (parsed, rejected)


@pytest.mark.fuzz
def test_every_seed_runs_clean() -> None:
    for case, data in enumerate(seeds()):
        check(case, data, run_one)
