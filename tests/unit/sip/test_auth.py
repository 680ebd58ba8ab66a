"""Tests for phoneagent.sip.auth: digest authentication as a client.

Two halves: the computation against published vectors (corpus/digest, using
the ``recomputed_*`` values where a printed RFC value is known to be wrong), and
whole challenge/answer flows on messages built by the real parser, whose
credentials are parsed back and recomputed here with hashlib directly.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phoneagent.sip import auth
from phoneagent.sip.auth import (
    ALGORITHMS,
    AVAILABLE_ALGORITHMS,
    MAX_NONCE_COUNT,
    MAX_STALE_RETRIES,
    Credentials,
    DigestClient,
    digest_response,
    hash_available,
    hashed_username,
)
from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.fields import AuthParameters
from phoneagent.sip.message import Request, Response
from phoneagent.sip.parser import parse_message
from tests.helpers import corpus_file

VECTORS: dict[str, Any] = json.loads(corpus_file("digest", "digest-vectors.json").read_text())
CASES: dict[str, dict[str, Any]] = {case["id"]: case for case in VECTORS["cases"]}

HAS_SHA512_256 = "SHA-512-256" in AVAILABLE_ALGORITHMS
needs_sha512_256 = pytest.mark.skipif(
    not HAS_SHA512_256, reason="this Python's hashlib has no sha512_256"
)

PASSWORD = "zanzibar-Pa55!"
HASHLIB_NAMES = {"md5": "md5", "sha-256": "sha256", "sha-512-256": "sha512_256"}


# -- independent recomputation (hashlib only, nothing from the module) -----------------------


def _h(algorithm: str, data: str | bytes) -> str:
    base = algorithm.lower().removesuffix("-sess")
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.new(HASHLIB_NAMES[base], data).hexdigest()


def expected_response(
    credentials: AuthParameters,
    *,
    username: str,
    password: str,
    method: str,
    body: bytes = b"",
) -> str:
    """RFC 2617 §3.2.2 / RFC 7616 §3.4.1 written out again, for the test's own check."""
    algorithm = credentials.get("algorithm") or "MD5"
    realm, nonce, uri = credentials.realm, credentials.nonce, credentials.get("uri")
    qop, nc, cnonce = credentials.get("qop"), credentials.get("nc"), credentials.get("cnonce")
    ha1 = _h(algorithm, f"{username}:{realm}:{password}")
    if algorithm.lower().endswith("-sess"):
        ha1 = _h(algorithm, f"{ha1}:{nonce}:{cnonce}")
    a2 = f"{method}:{uri}"
    if qop == "auth-int":
        a2 += ":" + _h(algorithm, body)
    if qop is None:
        return _h(algorithm, f"{ha1}:{nonce}:{_h(algorithm, a2)}")
    return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{_h(algorithm, a2)}")


# -- messages ------------------------------------------------------------------------------------

REGISTER = (
    "REGISTER sip:biloxi.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7\r\n"
    "Max-Forwards: 70\r\n"
    "To: Bob <sip:bob@biloxi.example.com>\r\n"
    "From: Bob <sip:bob@biloxi.example.com>;tag=456248\r\n"
    "Call-ID: 843817637684230@998sdasdh09\r\n"
    "CSeq: 1826 REGISTER\r\n"
    "Contact: <sip:bob@192.0.2.4>\r\n"
    "Expires: 7200\r\n"
    "Content-Length: 0\r\n"
    "\r\n"
)

SDP = (
    "v=0\r\n"
    "o=bob 2890844526 2890844526 IN IP4 192.0.2.4\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.4\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0\r\n"
)

INVITE = (
    "INVITE sip:alice@atlanta.example.com;transport=tcp SIP/2.0\r\n"
    "Via: SIP/2.0/TCP 192.0.2.4:5060;branch=z9hG4bK776asdhds\r\n"
    "Max-Forwards: 70\r\n"
    "To: Alice <sip:alice@atlanta.example.com>\r\n"
    "From: Bob <sip:bob@biloxi.example.com>;tag=1928301774\r\n"
    "Call-ID: a84b4c76e66710@pc33.biloxi.example.com\r\n"
    "CSeq: 314159 INVITE\r\n"
    "Contact: <sip:bob@192.0.2.4>\r\n"
    "Content-Type: application/sdp\r\n"
    f"Content-Length: {len(SDP)}\r\n"
    "\r\n" + SDP
)


def parse_request(text: str) -> Request:
    message = parse_message(text.encode())
    assert isinstance(message, Request)
    return message


def challenge_for(request: Request, status: int, *challenges: str) -> Response:
    """The 401/407 a server would send for ``request``, through the real parser."""
    header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    reason = "Unauthorized" if status == 401 else "Proxy Authentication Required"
    lines = [f"SIP/2.0 {status} {reason}"]
    lines += [f"Via: {via}" for via in request.headers.get_all("Via")]
    lines.append(f"To: {request.headers.get('To')};tag=srv{status}")
    for name in ("From", "Call-ID", "CSeq"):
        lines.append(f"{name}: {request.headers.get(name)}")
    lines += [f"{header}: {value}" for value in challenges]
    lines += ["Content-Length: 0", "", ""]
    message = parse_message("\r\n".join(lines).encode())
    assert isinstance(message, Response)
    return message


def credentials_of(request: Request, header: str = "Authorization") -> list[AuthParameters]:
    """Every credentials header of ``request``, each parsed back on its own."""
    return [AuthParameters.parse(value, header) for value in request.headers.get_all(header)]


def only_credentials(request: Request, header: str = "Authorization") -> AuthParameters:
    found = credentials_of(request, header)
    assert len(found) == 1, found
    return found[0]


class FakeRandom:
    """A deterministic ``random_bytes``: call n gives n repeated n times, and is counted."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def __call__(self, size: int) -> bytes:
        self.calls.append(size)
        return bytes([len(self.calls)]) * size

    def hex(self, call: int) -> str:
        return (bytes([call]) * auth.CNONCE_BYTES).hex()


def bob_client(random_bytes: Callable[[int], bytes] | None = None, **kwargs: Any) -> DigestClient:
    credentials = [Credentials("bob", PASSWORD, realm="biloxi.example.com")]
    if random_bytes is None:
        return DigestClient(credentials, **kwargs)
    return DigestClient(credentials, random_bytes, **kwargs)


MD5_CHALLENGE = (
    'Digest realm="biloxi.example.com", qop="auth", '
    'nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="", algorithm=MD5'
)
SHA256_CHALLENGE = (
    'Digest realm="biloxi.example.com", qop="auth", '
    'nonce="c60f3082ee1212b402a21831ae", opaque="5ccc069c403ebaf9f0171e9517f40e41", '
    "algorithm=SHA-256"
)


# -- the vectors ---------------------------------------------------------------------------------


def _vector_response(case: dict[str, Any]) -> str:
    body = case.get("entity_body", "").encode()
    return digest_response(
        case["algorithm"] or "MD5",
        username=case["username"],
        realm=case["realm"],
        password=case["password"],
        method=case["method"],
        uri=case["uri"],
        nonce=case["nonce"],
        qop=case["qop"],
        nc=case.get("nc"),
        cnonce=case.get("cnonce"),
        body=body,
    )


@pytest.mark.parametrize(
    "case_id",
    [case_id for case_id in CASES if not case_id.startswith("rfc7616-3.9.2")],
)
def test_vector(case_id: str) -> None:
    case = CASES[case_id]
    assert _vector_response(case) == case["recomputed_response"]
    if case["match"]:
        assert case["recomputed_response"] == case["expected_response"]


def test_rfc2069_printed_value_is_wrong_and_we_do_not_reproduce_it() -> None:
    case = CASES["rfc2069-2.4"]
    assert not case["match"]
    assert _vector_response(case) != case["expected_response"]


def test_the_six_sip_cases_match_independent_implementations() -> None:
    cross = VECTORS["independent_cross_check_values"][
        "BrianMiller793/pysiptest (unit test of draft-smith s.3.1-3.6)"
    ]
    for section in ("3.1", "3.2", "3.3", "3.4", "3.5", "3.6"):
        case = CASES[f"draft-smith-sipping-auth-examples-01-{section}"]
        assert _vector_response(case) == cross[section]


def test_auth_int_body_hash_and_ha1_of_the_sip_cases() -> None:
    md5 = ALGORITHMS["md5"]
    case = CASES["draft-smith-sipping-auth-examples-01-3.5"]
    assert md5.hash(case["entity_body"].encode()) == case["H(entity-body)"]
    assert md5.hash("bob:biloxi.com:zanzibar") == VECTORS["HA1_bob_biloxi.com_zanzibar_recomputed"]


@needs_sha512_256
def test_rfc7616_sha512_256_userhash_example_with_real_sha512_256() -> None:
    # RFC 7616 §3.9.2 printed values use SHA-512 cut to 256 bits (erratum 4897);
    # SHA-512/256 of FIPS 180-4 gives the recomputed ones.
    case = CASES["rfc7616-3.9.2-SHA-512-256-userhash"]
    assert case["username"].encode().hex() == case["username_utf8_hex"]
    userhash = hashed_username("SHA-512-256", case["username"], case["realm"])
    assert userhash == case["recomputed_userhash_H(username:realm)"]
    assert userhash != case["recomputed_userhash_truncated_sha512"]
    assert _vector_response(case) == case["recomputed_response"]
    assert _vector_response(case) != case["recomputed_response_truncated_sha512"]
    # And once more straight from hashlib, independent of the corpus file.
    independent = hashlib.new(
        "sha512_256", f"{case['username']}:{case['realm']}".encode()
    ).hexdigest()
    assert userhash == independent


@needs_sha512_256
def test_sha512_256_is_fips_180_4_not_truncated_sha512() -> None:
    # FIPS 180-4 example: SHA-512/256("abc").
    fips = "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
    assert ALGORITHMS["sha-512-256"].hash("abc") == fips
    assert ALGORITHMS["sha-512-256"].hash("abc") != hashlib.sha512(b"abc").hexdigest()[:64]


@pytest.mark.parametrize("name", ["SHA-256", "SHA-256-sess", "SHA-512-256-sess", "MD5-sess"])
def test_every_algorithm_agrees_with_the_independent_formula(name: str) -> None:
    if name not in AVAILABLE_ALGORITHMS:
        pytest.skip(f"{name} unavailable here")
    parameters = {
        "realm": "biloxi.example.com",
        "nonce": "n0nce",
        "uri": "sip:bob@biloxi.example.com",
        "qop": "auth-int",
        "nc": "0000000a",
        "cnonce": "c0ffee",
        "algorithm": name,
    }
    credentials = AuthParameters("Digest", tuple(parameters.items()))
    ours = digest_response(
        name,
        username="bob",
        realm="biloxi.example.com",
        password=PASSWORD,
        method="INVITE",
        uri="sip:bob@biloxi.example.com",
        nonce="n0nce",
        qop="auth-int",
        nc="0000000a",
        cnonce="c0ffee",
        body=SDP.encode(),
    )
    assert ours == expected_response(
        credentials, username="bob", password=PASSWORD, method="INVITE", body=SDP.encode()
    )


def test_digest_response_refuses_inconsistent_arguments() -> None:
    common: dict[str, Any] = {
        "username": "bob",
        "realm": "r",
        "password": "p",
        "method": "REGISTER",
        "uri": "sip:r",
        "nonce": "n",
    }
    with pytest.raises(LocalProtocolError):
        digest_response("MD5", qop="auth", **common)  # no nc / cnonce
    with pytest.raises(LocalProtocolError):
        digest_response("MD5-sess", **common)  # -sess without cnonce
    with pytest.raises(LocalProtocolError):
        digest_response("MD5", qop="auth-conf", nc="00000001", cnonce="c", **common)
    with pytest.raises(LocalProtocolError):
        digest_response("SHA-1", **common)


# -- algorithm availability ------------------------------------------------------------------


def test_hash_available_probes_hashlib(monkeypatch: pytest.MonkeyPatch) -> None:
    assert hash_available("md5") == ("MD5" in AVAILABLE_ALGORITHMS)
    assert hash_available("sha512_256") == HAS_SHA512_256
    assert hash_available("no-such-hash") is False
    real_new = hashlib.new

    def without_sha512_256(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "sha512_256":
            raise ValueError("unsupported hash type sha512_256")  # as an OpenSSL without it
        return real_new(name, *args, **kwargs)

    monkeypatch.setattr(hashlib, "new", without_sha512_256)
    assert hash_available("sha512_256") is False
    assert hash_available("sha256") is True


def test_strongest_available_is_chosen_when_sha512_256_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        auth, "AVAILABLE_ALGORITHMS", AVAILABLE_ALGORITHMS - {"SHA-512-256", "SHA-512-256-sess"}
    )
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    sha512 = SHA256_CHALLENGE.replace("SHA-256", "SHA-512-256").replace("c60f", "d70f")
    retry = client.answer(challenge_for(request, 401, sha512, SHA256_CHALLENGE), request)
    assert retry is not None
    assert only_credentials(retry).get("algorithm") == "SHA-256"

    alone = client.answer(challenge_for(request, 401, sha512), request)
    assert alone is None
    assert client.last_failure is not None
    assert "unavailable" in client.last_failure
    assert "sha512_256" in client.last_failure
    with pytest.raises(LocalProtocolError, match="sha512_256"):
        bob_client(algorithms=["SHA-512-256"])


def test_algorithms_can_be_restricted_to_refuse_md5() -> None:
    client = bob_client(FakeRandom(), algorithms=["SHA-256", "SHA-256-sess"])
    request = parse_request(REGISTER)
    assert client.answer(challenge_for(request, 401, MD5_CHALLENGE), request) is None
    assert client.last_failure is not None
    assert "not allowed by configuration" in client.last_failure
    with pytest.raises(LocalProtocolError):
        bob_client(algorithms=["SHA-1"])


# -- whole flows ---------------------------------------------------------------------------------


def test_401_with_md5_and_sha256_answers_sha256() -> None:
    random_bytes = FakeRandom()
    client = bob_client(random_bytes)
    request = parse_request(REGISTER)
    original = bytes(request)
    retry = client.answer(challenge_for(request, 401, MD5_CHALLENGE, SHA256_CHALLENGE), request)

    assert retry is not None
    assert bytes(request) == original  # a copy: the request itself is untouched
    credentials = only_credentials(retry)
    assert credentials.scheme == "Digest"
    assert credentials.get("username") == "bob"
    assert credentials.realm == "biloxi.example.com"
    assert credentials.nonce == "c60f3082ee1212b402a21831ae"
    assert credentials.get("uri") == "sip:biloxi.example.com" == str(request.uri)
    assert credentials.get("algorithm") == "SHA-256"
    assert credentials.get("qop") == "auth"
    assert credentials.get("nc") == "00000001"
    assert credentials.get("cnonce") == random_bytes.hex(1)
    assert random_bytes.calls == [auth.CNONCE_BYTES]
    assert credentials.opaque == "5ccc069c403ebaf9f0171e9517f40e41"
    assert credentials.get("response") == expected_response(
        credentials, username="bob", password=PASSWORD, method="REGISTER"
    )
    # Only the credentials changed; CSeq and Via are the caller's job.
    assert retry.headers.get("CSeq") == "1826 REGISTER"
    assert retry.headers.get_all("Via") == request.headers.get_all("Via")
    assert [n for n, _ in retry.headers if n != "Authorization"] == [n for n, _ in request.headers]
    # The copy serialises and parses back with the same credentials.
    reparsed = parse_request(bytes(retry).decode())
    assert reparsed.authorization == (credentials,)
    assert client.last_failure is None
    assert client.realms == ("biloxi.example.com",)


@needs_sha512_256
def test_sha512_256_beats_sha256_and_md5() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    sha512 = SHA256_CHALLENGE.replace("SHA-256", "SHA-512-256")
    response = challenge_for(request, 401, MD5_CHALLENGE, SHA256_CHALLENGE, sha512)
    retry = client.answer(response, request)
    assert retry is not None
    credentials = only_credentials(retry)
    assert credentials.get("algorithm") == "SHA-512-256"
    assert credentials.get("response") == expected_response(
        credentials, username="bob", password=PASSWORD, method="REGISTER"
    )


def test_sess_variant_ranks_with_its_base_and_the_server_order_breaks_ties() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    sess = SHA256_CHALLENGE.replace("algorithm=SHA-256", "algorithm=SHA-256-sess")
    retry = client.answer(challenge_for(request, 401, sess, SHA256_CHALLENGE), request)
    assert retry is not None
    credentials = only_credentials(retry)
    assert credentials.get("algorithm") == "SHA-256-sess"
    assert credentials.get("response") == expected_response(
        credentials, username="bob", password=PASSWORD, method="REGISTER"
    )
    md5_sess = MD5_CHALLENGE.replace("algorithm=MD5", "algorithm=MD5-sess")
    retry = client.answer(challenge_for(request, 401, md5_sess, SHA256_CHALLENGE), request)
    assert retry is not None
    assert only_credentials(retry).get("algorithm") == "SHA-256"


def test_407_from_two_proxies_gets_one_proxy_authorization_per_realm() -> None:
    random_bytes = FakeRandom()
    client = DigestClient(
        [
            Credentials("bob-edge", "edge-secret", realm="edge.example.net"),
            Credentials("bob", PASSWORD),  # any other realm
        ],
        random_bytes,
    )
    request = parse_request(INVITE)
    response = challenge_for(
        request,
        407,
        'Digest realm="edge.example.net", nonce="e1", qop="auth", algorithm=MD5',
        'Digest realm="core.example.net", nonce="c1", qop="auth", algorithm=SHA-256',
    )
    retry = client.answer(response, request)

    assert retry is not None
    assert retry.headers.get_all("Authorization") == []
    found = {c.realm: c for c in credentials_of(retry, "Proxy-Authorization")}
    assert set(found) == {"edge.example.net", "core.example.net"}
    edge, core = found["edge.example.net"], found["core.example.net"]
    assert edge.get("username") == "bob-edge"
    assert core.get("username") == "bob"
    assert (edge.nonce, core.nonce) == ("e1", "c1")
    assert edge.get("cnonce") != core.get("cnonce")
    assert len(random_bytes.calls) == 2
    uri = "sip:alice@atlanta.example.com;transport=tcp"
    assert edge.get("uri") == core.get("uri") == uri
    assert edge.get("response") == expected_response(
        edge, username="bob-edge", password="edge-secret", method="INVITE"
    )
    assert core.get("response") == expected_response(
        core, username="bob", password=PASSWORD, method="INVITE"
    )
    assert retry.body == request.body


def test_407_answers_the_realms_it_has_credentials_for() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(INVITE)
    response = challenge_for(
        request,
        407,
        'Digest realm="stranger.example.org", nonce="s1", qop="auth"',
        'Digest realm="biloxi.example.com", nonce="b1", qop="auth"',
    )
    retry = client.answer(response, request)
    assert retry is not None
    assert only_credentials(retry, "Proxy-Authorization").realm == "biloxi.example.com"


def test_stale_nonce_retries_with_the_new_nonce_and_nc_reset() -> None:
    random_bytes = FakeRandom()
    client = bob_client(random_bytes)
    request = parse_request(REGISTER)
    first = client.answer(challenge_for(request, 401, MD5_CHALLENGE), request)
    assert first is not None
    # Later, pre-emptively, the nonce is used again ...
    later = client.authorize_preemptively(request)
    assert only_credentials(later).get("nc") == "00000002"
    # ... and the server has since expired it.
    stale = MD5_CHALLENGE.replace("ea9c8e88", "0b0b0b0b") + ", stale=TRUE"
    retry = client.answer(challenge_for(later, 401, stale), later)

    assert retry is not None
    credentials = only_credentials(retry)  # replaced, not added
    assert credentials.nonce == "0b0b0b0bdf84f1cec4341ae6cbe5a359"
    assert credentials.get("nc") == "00000001"
    assert credentials.get("cnonce") == random_bytes.hex(2)
    assert credentials.get("response") == expected_response(
        credentials, username="bob", password=PASSWORD, method="REGISTER"
    )


def test_second_401_without_stale_means_the_password_was_wrong() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    retry = client.answer(challenge_for(request, 401, MD5_CHALLENGE), request)
    assert retry is not None
    again = challenge_for(retry, 401, MD5_CHALLENGE.replace("ea9c", "f00d"))
    assert client.answer(again, retry) is None
    assert client.last_failure is not None
    assert "rejected" in client.last_failure
    assert "biloxi.example.com" in client.last_failure
    # The rejected credentials are not sent pre-emptively any more.
    assert client.realms == ()
    assert client.authorize_preemptively(request).headers.get_all("Authorization") == []


def test_a_nonce_stale_on_its_first_use_is_retried() -> None:
    # The nonce may expire between the challenge and the answer (RFC 7616 §3.3).
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    retry = client.answer(challenge_for(request, 401, MD5_CHALLENGE), request)
    assert retry is not None
    stale = MD5_CHALLENGE.replace("ea9c", "1111") + ", stale=true"
    again = client.answer(challenge_for(retry, 401, stale), retry)
    assert again is not None
    (credentials,) = again.authorization
    assert credentials.nonce == "11118e88df84f1cec4341ae6cbe5a359"
    assert credentials.get("nc") == "00000001"


def test_stale_said_again_and_again_is_a_loop() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    current = client.answer(challenge_for(request, 401, MD5_CHALLENGE), request)
    assert current is not None
    for attempt in range(MAX_STALE_RETRIES):
        stale = MD5_CHALLENGE.replace("ea9c", f"{attempt:04d}") + ", stale=true"
        answered = client.answer(challenge_for(current, 401, stale), current)
        assert answered is not None
        current = answered
    stale = MD5_CHALLENGE.replace("ea9c", "9999") + ", stale=true"
    assert client.answer(challenge_for(current, 401, stale), current) is None
    assert client.last_failure is not None
    assert "stale" in client.last_failure


def test_the_same_nonce_called_stale_is_a_loop() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    retry = client.answer(challenge_for(request, 401, MD5_CHALLENGE), request)
    assert retry is not None
    stale = MD5_CHALLENGE + ", stale=true"
    assert client.answer(challenge_for(retry, 401, stale), retry) is None
    assert client.last_failure is not None
    assert "own current nonce" in client.last_failure


def test_no_credentials_for_the_realm() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    response = challenge_for(
        request, 401, 'Digest realm="atlanta.example.com", nonce="abc", qop="auth"'
    )
    assert client.answer(response, request) is None
    assert client.last_failure is not None
    assert "no credentials for realm 'atlanta.example.com'" in client.last_failure


def test_nc_counts_per_nonce_for_preemptive_use() -> None:
    random_bytes = FakeRandom()
    client = bob_client(random_bytes)
    request = parse_request(REGISTER)
    retry = client.answer(challenge_for(request, 401, SHA256_CHALLENGE), request)
    assert retry is not None
    first = only_credentials(retry)
    counts = []
    for _ in range(3):
        signed = client.authorize_preemptively(parse_request(INVITE))
        credentials = only_credentials(signed)
        counts.append(credentials.get("nc"))
        # Same nonce and cnonce; the digest covers this request's method and URI.
        assert credentials.nonce == first.nonce
        assert credentials.get("cnonce") == first.get("cnonce")
        assert credentials.get("uri") == "sip:alice@atlanta.example.com;transport=tcp"
        assert credentials.get("response") == expected_response(
            credentials, username="bob", password=PASSWORD, method="INVITE"
        )
    assert counts == ["00000002", "00000003", "00000004"]
    assert len(random_bytes.calls) == 1  # one cnonce per nonce

    # A new (non-stale) challenge for a request without credentials: new nonce, nc=1.
    fresh = SHA256_CHALLENGE.replace("c60f", "abcd")
    request = parse_request(REGISTER)
    again = client.answer(challenge_for(request, 401, fresh), request)
    assert again is not None
    credentials = only_credentials(again)
    assert credentials.nonce is not None
    assert credentials.nonce.startswith("abcd")
    assert credentials.get("nc") == "00000001"
    assert credentials.get("cnonce") == random_bytes.hex(2)


def test_preemptive_credentials_can_be_limited_to_some_realms() -> None:
    client = DigestClient([Credentials("bob", PASSWORD)], FakeRandom())
    request = parse_request(INVITE)
    retry = client.answer(
        challenge_for(
            request,
            407,
            'Digest realm="one", nonce="1", qop="auth"',
            'Digest realm="two", nonce="2", qop="auth"',
        ),
        request,
    )
    assert retry is not None
    assert client.realms == ("one", "two")
    signed = client.authorize_preemptively(parse_request(REGISTER), realms={"two"})
    assert [c.realm for c in credentials_of(signed, "Proxy-Authorization")] == ["two"]
    untouched = DigestClient([Credentials("bob", PASSWORD)]).authorize_preemptively(request)
    assert bytes(untouched) == bytes(request)


def test_a_used_up_nonce_is_not_sent_preemptively() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    assert client.answer(challenge_for(request, 401, MD5_CHALLENGE), request) is not None
    client._states[("authorization", "biloxi.example.com")].nonce_count = MAX_NONCE_COUNT
    signed = client.authorize_preemptively(request)
    assert signed.headers.get_all("Authorization") == []
    assert client.realms == ()


def test_answering_a_401_signs_the_proxy_credentials_again() -> None:
    client = DigestClient([Credentials("bob", PASSWORD)], FakeRandom())
    request = parse_request(INVITE)
    through_proxy = client.answer(
        challenge_for(request, 407, 'Digest realm="proxy", nonce="p1", qop="auth"'), request
    )
    assert through_proxy is not None
    assert only_credentials(through_proxy, "Proxy-Authorization").get("nc") == "00000001"
    retry = client.answer(
        challenge_for(through_proxy, 401, 'Digest realm="uas", nonce="u1", qop="auth"'),
        through_proxy,
    )
    assert retry is not None
    assert only_credentials(retry).realm == "uas"
    proxy = only_credentials(retry, "Proxy-Authorization")
    assert (proxy.nonce, proxy.get("nc")) == ("p1", "00000002")  # never the same nc twice
    assert proxy.get("response") == expected_response(
        proxy, username="bob", password=PASSWORD, method="INVITE"
    )


def test_credentials_the_client_did_not_make_are_kept() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    request.headers.add("Proxy-Authorization", 'Digest username="x", realm="other", nonce="n"')
    retry = client.answer(challenge_for(request, 401, MD5_CHALLENGE), request)
    assert retry is not None
    assert retry.headers.get_all("Proxy-Authorization") == request.headers.get_all(
        "Proxy-Authorization"
    )


# -- what a challenge may ask --------------------------------------------------------------------


def test_malformed_challenges_are_skipped_and_a_good_one_is_used() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    response = challenge_for(
        request,
        401,
        'Digest realm="biloxi.example.com", qop="auth"',  # no nonce
        'Digest realm="biloxi.example.com", nonce="a", qop="auth-conf"',  # unknown qop only
        'Digest realm="biloxi.example.com", nonce="b", algorithm=SHA-1',  # unknown algorithm
        'Digest realm="biloxi.example.com", nonce="c", algorithm=AKAv1-MD5',
        'Digest realm="biloxi.example.com", nonce="d", qop=""',  # empty qop
        'Basic realm="biloxi.example.com"',  # forbidden in SIP (§22.1)
        'Digest nonce="e"',  # no realm
        'Digest realm="biloxi.example.com" nonce="f"',  # not even parseable
        'Digest realm="biloxi.example.com", nonce="g", algorithm=MD5-sess',  # -sess, no qop
        'Digest realm="biloxi.example.com", nonce="good", qop="auth"',
    )
    retry = client.answer(response, request)
    assert retry is not None
    assert only_credentials(retry).nonce == "good"


def test_when_every_challenge_is_unusable_the_reasons_are_given() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    response = challenge_for(
        request,
        401,
        'Digest realm="biloxi.example.com", qop="auth"',
        'Digest realm="biloxi.example.com", nonce="a", qop="auth-conf"',
        'Digest realm="biloxi.example.com", nonce="b", algorithm="SHA-1"',
        'Basic realm="biloxi.example.com"',
        'Digest realm="biloxi.example.com" nonce="f"',
        'Digest realm="biloxi.example.com", nonce="g", algorithm=MD5-sess',
    )
    assert client.answer(response, request) is None
    failure = client.last_failure
    assert failure is not None
    for fragment in (
        "without a nonce",
        "no supported qop",
        "unsupported algorithm 'SHA-1'",
        "Basic challenge ignored",
        "malformed WWW-Authenticate",
        "MD5-sess without qop",
    ):
        assert fragment in failure
    empty = Response(401, "Unauthorized", [("Content-Length", "0")])
    assert client.answer(empty, request) is None
    assert client.last_failure == "no WWW-Authenticate challenge in the 401"


def test_answer_needs_a_401_or_407() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    with pytest.raises(LocalProtocolError):
        client.answer(Response(403, "Forbidden"), request)


def test_auth_int_only_hashes_the_body_and_auth_is_preferred() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(INVITE)
    only_int = 'Digest realm="biloxi.example.com", nonce="i1", qop="auth-int"'
    retry = client.answer(challenge_for(request, 407, only_int), request)
    assert retry is not None
    credentials = only_credentials(retry, "Proxy-Authorization")
    assert credentials.get("qop") == "auth-int"
    assert credentials.get("response") == expected_response(
        credentials, username="bob", password=PASSWORD, method="INVITE", body=SDP.encode()
    )
    # The body is part of the digest: another body gives another response.
    assert credentials.get("response") != expected_response(
        credentials, username="bob", password=PASSWORD, method="INVITE"
    )
    both = 'Digest realm="biloxi.example.com", nonce="i2", qop="auth-int,auth"'
    retry = client.answer(challenge_for(request, 407, both), request)
    assert retry is not None
    assert only_credentials(retry, "Proxy-Authorization").get("qop") == "auth"


def test_no_qop_is_rfc2069_mode_without_cnonce_or_nc() -> None:
    random_bytes = FakeRandom()
    client = bob_client(random_bytes)
    request = parse_request(REGISTER)
    old = 'Digest realm="biloxi.example.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093"'
    retry = client.answer(challenge_for(request, 401, old), request)
    assert retry is not None
    credentials = only_credentials(retry)
    for absent in ("qop", "nc", "cnonce", "algorithm", "opaque"):
        assert credentials.get(absent) is None
    assert random_bytes.calls == []
    assert credentials.get("response") == expected_response(
        credentials, username="bob", password=PASSWORD, method="REGISTER"
    )


def test_algorithm_token_is_matched_in_any_case_and_echoed_as_written() -> None:
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    lower = SHA256_CHALLENGE.replace("algorithm=SHA-256", "algorithm=sha-256")
    retry = client.answer(challenge_for(request, 401, lower), request)
    assert retry is not None
    credentials = only_credentials(retry)
    assert credentials.get("algorithm") == "sha-256"
    assert credentials.get("response") == expected_response(
        credentials, username="bob", password=PASSWORD, method="REGISTER"
    )


def test_userhash_sends_the_hashed_name_and_allows_a_non_ascii_username() -> None:
    client = DigestClient([Credentials("Jäsøn Doe", "Secret, or not?")], FakeRandom())
    request = parse_request(REGISTER)
    challenge = 'Digest realm="api@example.org", nonce="n1", qop="auth", algorithm=SHA-256, ' + (
        "userhash=true"
    )
    retry = client.answer(challenge_for(request, 401, challenge), request)
    assert retry is not None
    credentials = only_credentials(retry)
    assert credentials.get("userhash") == "true"
    assert credentials.get("username") == _h("SHA-256", "Jäsøn Doe:api@example.org")
    # The response still hashes the user's real name (RFC 7616 §3.4.4).
    assert credentials.get("response") == expected_response(
        credentials, username="Jäsøn Doe", password="Secret, or not?", method="REGISTER"
    )


def test_a_non_ascii_username_without_userhash_is_refused() -> None:
    client = DigestClient([Credentials("Jäsøn Doe", "pw")], FakeRandom())
    request = parse_request(REGISTER)
    response = challenge_for(request, 401, 'Digest realm="r", nonce="n", qop="auth"')
    assert client.answer(response, request) is None
    assert client.last_failure is not None
    assert "username*" in client.last_failure


def test_quotes_in_username_and_realm_survive_the_round_trip() -> None:
    client = DigestClient([Credentials('b"o\\b', PASSWORD)], FakeRandom())
    request = parse_request(REGISTER)
    response = challenge_for(request, 401, r'Digest realm="a \"quoted\" realm", nonce="n"')
    retry = client.answer(response, request)
    assert retry is not None
    credentials = only_credentials(retry)
    assert credentials.get("username") == 'b"o\\b'
    assert credentials.realm == 'a "quoted" realm'
    assert credentials.get("response") == expected_response(
        credentials, username='b"o\\b', password=PASSWORD, method="REGISTER"
    )


# -- construction, secrets and logs ----------------------------------------------------------


def test_credentials_repr_hides_the_password() -> None:
    credentials = Credentials("bob", PASSWORD, realm="biloxi.example.com")
    for text in (repr(credentials), str(credentials)):
        assert PASSWORD not in text
        assert "bob" in text
    client = DigestClient([credentials])
    assert PASSWORD not in repr(client)


def test_credentials_are_checked() -> None:
    with pytest.raises(LocalProtocolError):
        Credentials("", "pw")
    with pytest.raises(LocalProtocolError):
        Credentials("bob\r\nX-Evil: 1", "pw")
    with pytest.raises(LocalProtocolError):
        Credentials("bob", "pw", realm="r\n")
    with pytest.raises(LocalProtocolError):
        DigestClient([Credentials("a", "1"), Credentials("b", "2")])  # two catch-alls
    with pytest.raises(LocalProtocolError):
        DigestClient([Credentials("a", "1", "r"), Credentials("b", "2", "r")])


def test_random_bytes_of_the_wrong_length_is_our_bug() -> None:
    client = bob_client(lambda size: b"short")
    request = parse_request(REGISTER)
    with pytest.raises(LocalProtocolError):
        client.answer(challenge_for(request, 401, MD5_CHALLENGE), request)


def test_default_random_source_gives_distinct_cnonces() -> None:
    client = bob_client()
    request = parse_request(REGISTER)
    cnonces = set()
    for _ in range(2):
        retry = client.answer(challenge_for(request, 401, MD5_CHALLENGE), request)
        assert retry is not None
        cnonce = only_credentials(retry).get("cnonce")
        assert cnonce is not None
        assert len(cnonce) == 2 * auth.CNONCE_BYTES
        cnonces.add(cnonce)
    assert len(cnonces) == 2


def test_neither_password_nor_ha1_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="phoneagent")
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    retry = client.answer(challenge_for(request, 401, MD5_CHALLENGE, SHA256_CHALLENGE), request)
    assert retry is not None
    client.authorize_preemptively(request)
    stale = SHA256_CHALLENGE.replace("c60f", "9999") + ", stale=true"
    later = client.authorize_preemptively(request)
    again = client.answer(challenge_for(later, 401, stale), later)
    assert again is not None
    assert client.answer(challenge_for(again, 401, SHA256_CHALLENGE), again) is None

    records = [r for r in caplog.records if r.name.startswith("phoneagent.sip.auth")]
    assert records, "the module should log what it does"
    secrets = {
        PASSWORD,
        _h("MD5", f"bob:biloxi.example.com:{PASSWORD}"),
        _h("SHA-256", f"bob:biloxi.example.com:{PASSWORD}"),
    }
    for record in records:
        text = record.getMessage() + repr(record.args) + repr(record.__dict__)
        for secret in secrets:
            assert secret not in text


# -- robustness ------------------------------------------------------------------------------------

_CHALLENGE_PIECES = st.sampled_from(
    [
        "Digest",
        "Basic",
        ' realm="biloxi.example.com"',
        " realm=",
        ' nonce="n"',
        " nonce=",
        ' qop="auth,auth-int"',
        " qop=auth-conf",
        " algorithm=SHA-256",
        " algorithm=MD5-sess",
        ' algorithm=""',
        " stale=true",
        " userhash=true",
        ' opaque="o"',
        ",",
        '"',
        "\\",
        "=",
        " ",
        "é",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(_CHALLENGE_PIECES, max_size=12).map("".join), min_size=1, max_size=3),
    st.sampled_from([401, 407]),
)
def test_any_challenge_text_gives_a_request_or_none(values: list[str], status: int) -> None:
    client = DigestClient([Credentials("bob", PASSWORD)], FakeRandom())
    request = parse_request(REGISTER)
    header = "WWW-Authenticate" if status == 401 else "Proxy-Authenticate"
    response = Response(status, "Challenge", [(header, value) for value in values])
    retry = client.answer(response, request)
    if retry is None:
        assert client.last_failure
    else:
        parse_message(bytes(retry))


def test_refused_pre_emptive_credentials_are_answered_afresh() -> None:
    # Kamailio refuses a re-used nonce (nc=2) with a plain 401: not a wrong password.
    client = bob_client(FakeRandom())
    request = parse_request(REGISTER)
    answered = client.answer(challenge_for(request, 401, MD5_CHALLENGE), request)
    assert answered is not None
    refresh = client.authorize_preemptively(parse_request(REGISTER))
    (credentials,) = refresh.authorization
    assert credentials.get("nc") == "00000002"
    fresh_challenge = MD5_CHALLENGE.replace("ea9c", "4444")
    retry = client.answer(challenge_for(refresh, 401, fresh_challenge), refresh)
    assert retry is not None
    (credentials,) = retry.authorization
    assert credentials.get("nc") == "00000001"
    assert credentials.nonce == "44448e88df84f1cec4341ae6cbe5a359"
    # That fresh answer refused too: now it is the password.
    again = MD5_CHALLENGE.replace("ea9c", "5555")
    assert client.answer(challenge_for(retry, 401, again), retry) is None
