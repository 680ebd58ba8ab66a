"""Digest authentication as a client (RFC 3261 §22; RFC 7616; RFC 8760; RFC 2617).

Theory of operation
-------------------
A registrar or UAS that wants proof of identity answers 401 with
``WWW-Authenticate`` challenges; a proxy answers 407 with ``Proxy-Authenticate``
(RFC 3261 §22.2, §22.3).  ``DigestClient.answer(response, request)`` reads every
challenge, keeps those it can answer and returns a *copy* of the request with an
``Authorization`` (401) or ``Proxy-Authorization`` (407) for each challenged
realm — one header field per realm, so a 407 that several proxies on the path
built together is answered for each of them.  Nothing else of the request
changes: **the caller must give the copy a new CSeq number (§22.2, §8.1.3.5)
and a new Via branch (§8.1.1.7)**, since it is a new transaction.

Choosing among challenges (per realm):

* the scheme must be Digest (§22.1 forbids Basic), with a realm and a nonce;
* the algorithm (absent = MD5, §22.4) must be known, offered by this Python's
  ``hashlib`` and allowed by the client; the strongest wins:
  SHA-512-256 > SHA-256 > MD5, each ``-sess`` variant equal to its base (RFC 8760
  §2.4: the server lists its preference first, which breaks ties);
* qop: ``auth`` when offered, else ``auth-int`` (the body hashed into A2); no
  qop at all is RFC 2069 compatibility (RFC 2617 §3.2.2.1), allowed except with
  ``-sess``, whose A1 needs a cnonce.  ``auth`` is preferred because SBCs and
  B2BUAs rewrite SDP bodies, which breaks ``auth-int`` for no gain in identity;
* ``userhash=true`` (RFC 7616 §3.4.4) sends H(username ":" realm) as the name.
  A username outside ASCII needs ``username*`` unless it is hashed; that
  encoding is out of scope, so such a challenge is refused.

Per realm the client keeps the nonce, its count ``nc`` (8 hex digits, +1 for
each request that uses the nonce, RFC 7616 §3.4), one cnonce per nonce (so an
``-sess`` session key stays the same for the nonce's life), the opaque value and
the algorithm, so that ``authorize_preemptively`` can sign later requests before
any challenge (§22.3 "MAY cache credentials").

When not to retry (``answer`` returns None, ``last_failure`` says why):

* no challenge can be answered (no credentials for any challenged realm, no
  supported algorithm, malformed challenges);
* the challenged request carried credentials we computed for that realm's last
  challenge (nc=1) and the new challenge is not ``stale=true``: the server rejected the
  password (RFC 7616 §3.3: "the username and/or password are invalid").  Retrying
  would only lock the account; the caller reports "authentication failed".
  Pre-emptive credentials (a re-used nonce, nc > 1) that are refused are no verdict
  on the password — many registrars (Kamailio without nonce counting) refuse re-used
  nonces, and a restarted one forgets them — so that new challenge is answered.
* ``stale=true`` retries with the new nonce (nc back to 1) — a nonce may well
  expire between the challenge and our answer (RFC 7616 §3.3) — but a server
  that sends the same nonce back, or says "stale" more than ``MAX_STALE_RETRIES``
  times in a row for one realm, is looping, and that is a failure too.

The digest covers the method and the Request-URI as sent (``str(request.uri)``,
§22.4): the copy is rebuilt from the same URI object, so the start line and the
``uri`` parameter agree.  ACK and CANCEL are never challenged and carry the
*same* credentials as their INVITE (§13.2.2.4, §22.1): copy the INVITE's
Authorization/Proxy-Authorization headers onto them instead of calling this
module.

Secrets: ``Credentials.__repr__`` hides the password, and this module logs
neither the password nor H(A1) (a password equivalent).  Passwords and usernames
are hashed as UTF-8 (RFC 7616 §4).  This module does no I/O and reads no clock;
cnonces come from the injectable ``random_bytes``.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError
from phoneagent.sip.fields import AuthParameters, make_auth_parameters
from phoneagent.sip.headers import Headers, header_key
from phoneagent.sip.message import Request, Response

log = logging.getLogger(__name__)

#: Random octets in a cnonce (hex-encoded; RFC 7616 §3.4 wants it unpredictable).
CNONCE_BYTES = 16
MAX_STALE_RETRIES = 3
#: nc is 8 hex digits (RFC 7616 §3.4); past this the nonce is used up.
MAX_NONCE_COUNT = 0xFFFFFFFF


# -- algorithms ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestAlgorithm:
    """One entry of the IANA "HTTP Digest Algorithm Values" registry (RFC 7616 §6.1).

    ``strength`` orders algorithms when a server offers several; ``session``
    marks the ``-sess`` variants whose A1 folds in the nonce and cnonce
    (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2).
    """

    name: str
    hash_name: str
    strength: int
    session: bool

    def hash(self, data: str | bytes) -> str:
        """Lower-case hex digest of ``data`` (text is hashed as UTF-8)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        return hashlib.new(self.hash_name, data).hexdigest()


def _registry(*algorithms: DigestAlgorithm) -> dict[str, DigestAlgorithm]:
    return {algorithm.name.lower(): algorithm for algorithm in algorithms}


#: Every algorithm this module knows, by lower-case name (tokens compare case-insensitively).
ALGORITHMS: dict[str, DigestAlgorithm] = _registry(
    DigestAlgorithm("MD5", "md5", 1, session=False),
    DigestAlgorithm("MD5-sess", "md5", 1, session=True),
    # RFC 8760 §2: SIP's use of the RFC 7616 algorithms.
    DigestAlgorithm("SHA-256", "sha256", 2, session=False),
    DigestAlgorithm("SHA-256-sess", "sha256", 2, session=True),
    # SHA-512/256 of FIPS 180-4: its own initial values, *not* SHA-512 cut to 256 bits.
    DigestAlgorithm("SHA-512-256", "sha512_256", 3, session=False),
    DigestAlgorithm("SHA-512-256-sess", "sha512_256", 3, session=True),
)


def hash_available(hash_name: str) -> bool:
    """Whether this Python's ``hashlib`` computes ``hash_name``.

    ``sha512_256`` comes from OpenSSL and is missing from some builds (and
    FIPS mode can refuse MD5); an algorithm whose hash is missing is left out
    of ``AVAILABLE_ALGORITHMS`` rather than failing at the first challenge.
    """
    try:
        hashlib.new(hash_name, b"")
    except ValueError:
        return False
    return True


#: Names (as in ``ALGORITHMS``' values) of the algorithms this Python can compute.
AVAILABLE_ALGORITHMS: frozenset[str] = frozenset(
    algorithm.name for algorithm in ALGORITHMS.values() if hash_available(algorithm.hash_name)
)


def find_algorithm(name: str) -> DigestAlgorithm:
    """The registry entry called ``name`` (any case); LocalProtocolError if unknown."""
    algorithm = ALGORITHMS.get(name.lower())
    if algorithm is None:
        raise LocalProtocolError(f"unknown digest algorithm {name!r}")
    return algorithm


# -- the computation ---------------------------------------------------------------------


def digest_response(
    algorithm: DigestAlgorithm | str,
    *,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The ``response`` value (RFC 2617 §3.2.2, RFC 7616 §3.4.1–3.4.3).

    A1 = username ":" realm ":" password; for ``-sess``, H(A1) ":" nonce ":" cnonce.
    A2 = method ":" uri; for ``auth-int``, method ":" uri ":" H(body).
    With qop: KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2)); without
    (RFC 2069): KD(H(A1), nonce ":" H(A2)), where KD(s, d) = H(s ":" d).
    ``username`` is the user's name, never its userhash.
    """
    if isinstance(algorithm, str):
        algorithm = find_algorithm(algorithm)
    if qop is not None and qop not in ("auth", "auth-int"):
        raise LocalProtocolError(f"unsupported qop {qop!r}")
    if qop is not None and (nc is None or cnonce is None):
        raise LocalProtocolError("qop needs nc and cnonce")
    if algorithm.session and cnonce is None:
        raise LocalProtocolError(f"{algorithm.name} needs a cnonce (and so a qop)")
    h = algorithm.hash
    ha1 = h(f"{username}:{realm}:{password}")
    if algorithm.session:
        ha1 = h(f"{ha1}:{nonce}:{cnonce}")
    a2 = f"{method}:{uri}:{h(body)}" if qop == "auth-int" else f"{method}:{uri}"
    if qop is None:
        return h(f"{ha1}:{nonce}:{h(a2)}")
    return h(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{h(a2)}")


def hashed_username(algorithm: DigestAlgorithm | str, username: str, realm: str) -> str:
    """RFC 7616 §3.4.4: userhash = H(unq(username) ":" unq(realm))."""
    if isinstance(algorithm, str):
        algorithm = find_algorithm(algorithm)
    return algorithm.hash(f"{username}:{realm}")


# -- credentials ----------------------------------------------------------------------------


def _has_control_character(text: str) -> bool:
    return any(ord(char) < 0x20 or ord(char) == 0x7F for char in text)


@dataclass(frozen=True, slots=True)
class Credentials:
    """A username and password, for one realm or (``realm=None``) for any realm.

    "Any realm" answers whoever challenges, which lets a rogue server collect a
    digest to attack offline; name the realm when it is known.  The password
    never appears in ``repr``.
    """

    username: str
    password: str = field(repr=False)
    realm: str | None = None

    def __post_init__(self) -> None:
        if not self.username:
            raise LocalProtocolError("Credentials need a username")
        if _has_control_character(self.username):
            raise LocalProtocolError("a username cannot hold control characters")
        if self.realm is not None and _has_control_character(self.realm):
            raise LocalProtocolError("a realm cannot hold control characters")


# -- the client -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ChallengeKind:
    """Which headers a status code uses (RFC 3261 §22.2 for 401, §22.3 for 407)."""

    challenge_header: str
    credentials_header: str


_KINDS: dict[int, _ChallengeKind] = {
    401: _ChallengeKind("WWW-Authenticate", "Authorization"),
    407: _ChallengeKind("Proxy-Authenticate", "Proxy-Authorization"),
}
_CREDENTIALS_KEYS = ("authorization", "proxy-authorization")


@dataclass(frozen=True, slots=True)
class _Offer:
    """A challenge we can answer, with the choices made for it."""

    realm: str
    nonce: str
    opaque: str | None
    algorithm: DigestAlgorithm
    algorithm_token: str | None  # as the server wrote it; None when absent (MD5)
    qop: str | None
    userhash: bool
    stale: bool
    credentials: Credentials


@dataclass(slots=True, eq=False)
class _RealmState:
    """What one realm asked for last, so that later requests can be signed."""

    header: str  # "Authorization" or "Proxy-Authorization"
    offer: _Offer
    cnonce: str | None
    nonce_count: int = 0  # requests signed with this nonce so far
    stale_retries: int = 0  # consecutive stale=true challenges answered for this realm

    @property
    def key(self) -> tuple[str, str]:
        return (header_key(self.header), self.offer.realm)


class DigestClient:
    """Answers digest challenges and signs requests for the realms it has met.

    ``credentials`` holds at most one entry per realm and at most one for any
    realm (``realm=None``); an exact realm wins over the catch-all.
    ``algorithms`` restricts what may be answered (e.g. to refuse MD5); by
    default every algorithm in ``AVAILABLE_ALGORITHMS``.
    """

    def __init__(
        self,
        credentials: Sequence[Credentials],
        random_bytes: Callable[[int], bytes] = os.urandom,
        *,
        algorithms: Iterable[str] | None = None,
    ) -> None:
        self._credentials: dict[str | None, Credentials] = {}
        for entry in credentials:
            if entry.realm in self._credentials:
                raise LocalProtocolError(f"two credentials for realm {entry.realm!r}")
            self._credentials[entry.realm] = entry
        self._random_bytes = random_bytes
        if algorithms is None:
            self._algorithms = set(AVAILABLE_ALGORITHMS)
        else:
            self._algorithms = set()
            for name in algorithms:
                algorithm = find_algorithm(name)
                if algorithm.name not in AVAILABLE_ALGORITHMS:
                    raise LocalProtocolError(
                        f"{algorithm.name} needs hashlib's {algorithm.hash_name!r}, "
                        "which this Python does not provide"
                    )
                self._algorithms.add(algorithm.name)
        self._states: dict[tuple[str, str], _RealmState] = {}
        #: Why the last ``answer`` returned None (for the log), else None.
        self.last_failure: str | None = None

    def __repr__(self) -> str:
        realms = sorted(str(realm) for realm in self._credentials)
        return f"<DigestClient credentials for {realms}, {len(self._states)} realm(s) met>"

    @property
    def realms(self) -> tuple[str, ...]:
        """The realms whose nonce is known, i.e. that ``authorize_preemptively`` can sign."""
        return tuple(dict.fromkeys(realm for _, realm in self._states))

    # -- answering a challenge -----------------------------------------------------------------

    def answer(self, response: Response, request: Request) -> Request | None:
        """A copy of ``request`` with credentials answering ``response`` (401 or 407).

        Returns None when the request must not be retried; ``last_failure``
        says why.  The caller gives the copy a new CSeq and Via branch.
        ``request`` must be the request that drew ``response`` (with whatever
        credentials it carried), so that a rejected password is recognised.
        """
        kind = _KINDS.get(response.status_code)
        if kind is None:
            raise LocalProtocolError(f"answer() needs a 401 or 407, not {response.status_code}")
        reasons: list[str] = []
        chosen: dict[str, _Offer] = {}
        for text in response.headers.get_all(kind.challenge_header):
            offer = self._evaluate(text, kind.challenge_header, reasons)
            if offer is None:
                continue
            best = chosen.get(offer.realm)
            if best is None or offer.algorithm.strength > best.algorithm.strength:
                chosen[offer.realm] = offer
        if not chosen:
            if not reasons:
                reasons.append(
                    f"no {kind.challenge_header} challenge in the {response.status_code}"
                )
            self._fail("; ".join(reasons))
            return None

        carried = _carried_nonces(request, kind.credentials_header)
        credentials_key = header_key(kind.credentials_header)
        for realm, offer in chosen.items():
            if realm not in carried:
                continue  # first challenge for this request: answer it
            refusal = DigestClient._refusal(
                offer, carried[realm], self._states.get((credentials_key, realm))
            )
            if refusal is not None:
                self._states.pop((credentials_key, realm), None)
                self._fail(refusal)
                return None

        answered: list[_RealmState] = []
        for offer in chosen.values():
            previous = self._states.get((credentials_key, offer.realm))
            stale_retries = previous.stale_retries + 1 if previous and offer.stale else 0
            state = _RealmState(
                kind.credentials_header, offer, self._new_cnonce(offer), 0, stale_retries
            )
            self._states[state.key] = state
            answered.append(state)
            log.debug(
                "answering %s challenge of realm %r with %s, qop=%s%s",
                response.status_code,
                offer.realm,
                offer.algorithm.name,
                offer.qop,
                " (stale nonce)" if offer.stale else "",
            )
        # Credentials the request already carried for other realms we know are
        # signed again: the copy is a new request and must not repeat an nc.
        carried_keys = _carried_keys(request)
        also = [
            state
            for key, state in self._states.items()
            if key in carried_keys and state not in answered
        ]
        self.last_failure = None
        return self._signed_copy(request, answered + also)

    @staticmethod
    def _refusal(offer: _Offer, carried_nonce: str | None, state: _RealmState | None) -> str | None:
        """Why a realm whose credentials the request carried must not be retried."""
        if state is not None and state.offer.nonce == carried_nonce and state.nonce_count > 1:
            # Pre-emptive credentials (a nonce re-used, nc > 1) refused: the server does not
            # take re-used nonces, or forgot them (a restart).  That says nothing about the
            # password: answer the new challenge; its nc=1 answer is judged normally.
            return None
        if not offer.stale:
            return (
                f"credentials of {offer.credentials.username!r} for realm {offer.realm!r} "
                "were rejected (challenged again without stale=true)"
            )
        if carried_nonce == offer.nonce:
            return f"realm {offer.realm!r} called its own current nonce stale"
        if state is not None and state.stale_retries >= MAX_STALE_RETRIES:
            return f"realm {offer.realm!r} said 'stale' {state.stale_retries} times in a row"
        return None

    def _evaluate(self, text: str, header: str, reasons: list[str]) -> _Offer | None:
        """The offer a challenge makes, or None (with the reason appended)."""
        try:
            challenge = AuthParameters.parse(text, header)
        except RemoteProtocolError as error:
            reasons.append(f"malformed {header}: {error.reason}")
            return None
        if not challenge.is_digest:
            reasons.append(f"{challenge.scheme} challenge ignored (only Digest is used in SIP)")
            return None
        realm = challenge.realm
        if realm is None:
            reasons.append(f"{header} without a realm")
            return None
        nonce = challenge.nonce
        if not nonce:
            reasons.append(f"{header} of realm {realm!r} without a nonce")
            return None
        credentials = self._credentials.get(realm) or self._credentials.get(None)
        if credentials is None:
            reasons.append(f"no credentials for realm {realm!r}")
            return None
        token = challenge.get("algorithm")
        algorithm = ALGORITHMS.get((token or "MD5").lower())
        if algorithm is None:
            reasons.append(f"realm {realm!r}: unsupported algorithm {token!r}")
            return None
        if algorithm.name not in self._algorithms:
            why = (
                "not allowed by configuration"
                if algorithm.name in AVAILABLE_ALGORITHMS
                else f"unavailable (this Python's hashlib has no {algorithm.hash_name})"
            )
            reasons.append(f"realm {realm!r}: algorithm {algorithm.name} {why}")
            return None
        qop = _choose_qop(challenge)
        if qop == "":
            reasons.append(f"realm {realm!r}: no supported qop in {challenge.get('qop')!r}")
            return None
        if qop is None and algorithm.session:
            reasons.append(f"realm {realm!r}: {algorithm.name} without qop")
            return None
        userhash = (challenge.get("userhash") or "").lower() == "true"
        if not credentials.username.isascii() and not userhash:
            reasons.append(
                f"realm {realm!r}: a non-ASCII username needs username* (RFC 7616 §3.4.4), "
                "which is not supported"
            )
            return None
        return _Offer(
            realm=realm,
            nonce=nonce,
            opaque=challenge.opaque,
            algorithm=algorithm,
            algorithm_token=token,
            qop=qop,
            userhash=userhash,
            stale=challenge.stale,
            credentials=credentials,
        )

    def _fail(self, reason: str) -> None:
        self.last_failure = reason
        log.info("not answering the challenge: %s", reason)

    def _new_cnonce(self, offer: _Offer) -> str | None:
        if offer.qop is None:
            return None  # RFC 2069 mode sends no cnonce
        octets = self._random_bytes(CNONCE_BYTES)
        if len(octets) != CNONCE_BYTES:
            raise LocalProtocolError(f"random_bytes gave {len(octets)} octets, not {CNONCE_BYTES}")
        return octets.hex()

    # -- signing -----------------------------------------------------------------------------

    def authorize_preemptively(
        self, request: Request, realms: Collection[str] | None = None
    ) -> Request:
        """A copy of ``request`` carrying credentials for the realms already met.

        ``realms`` limits which (default: all of ``self.realms``); give only the
        realms of the request's destination, since every header names the user.
        Each use counts the nonce up.  Existing credentials for those realms are
        replaced.  Realms whose nonce is used up are forgotten (the server will
        challenge again).
        """
        states = []
        for key, state in list(self._states.items()):
            if realms is not None and state.offer.realm not in realms:
                continue
            if state.nonce_count >= MAX_NONCE_COUNT:
                del self._states[key]
                continue
            states.append(state)
        return self._signed_copy(request, states)

    def _signed_copy(self, request: Request, states: Sequence[_RealmState]) -> Request:
        """``request`` with one fresh credentials header per state, replacing old ones."""
        fresh = {state.key: self._sign(state, request) for state in states}
        written: set[tuple[str, str]] = set()
        headers = Headers()
        for name, value in request.headers:
            name_key = header_key(name)
            if name_key in _CREDENTIALS_KEYS:
                key = (name_key, _realm_of(value, name))
                if key in fresh:
                    if key not in written:  # the new value takes the old one's place
                        headers.add(name, fresh[key])
                        written.add(key)
                    continue
            headers.add(name, value)
        for state in states:
            if state.key not in written:
                headers.add(state.header, fresh[state.key])
        return Request(request.method, request.uri, headers, request.body)

    def _sign(self, state: _RealmState, request: Request) -> str:
        """One credentials value for ``request`` (RFC 3261 §22.4, RFC 7616 §3.4)."""
        offer = state.offer
        state.nonce_count += 1
        nc = f"{state.nonce_count:08x}" if offer.qop is not None else None
        uri = str(request.uri)
        response = digest_response(
            offer.algorithm,
            username=offer.credentials.username,
            realm=offer.realm,
            password=offer.credentials.password,
            method=request.method,
            uri=uri,
            nonce=offer.nonce,
            qop=offer.qop,
            nc=nc,
            cnonce=state.cnonce,
            body=request.body,
        )
        username = offer.credentials.username
        if offer.userhash:
            username = hashed_username(offer.algorithm, username, offer.realm)
        quoted = {
            "username": username,
            "realm": offer.realm,
            "nonce": offer.nonce,
            "uri": uri,
            "response": response,
        }
        bare: dict[str, str] = {}
        if offer.algorithm_token is not None:
            bare["algorithm"] = offer.algorithm_token
        if offer.qop is not None:
            assert state.cnonce is not None and nc is not None  # set together with qop
            quoted["cnonce"] = state.cnonce
            bare["qop"] = offer.qop
            bare["nc"] = nc
        if offer.opaque is not None:
            quoted["opaque"] = offer.opaque
        if offer.userhash:
            bare["userhash"] = "true"
        log.debug(
            "%s for %s %s: realm %r, %s, nc=%s",
            state.header,
            request.method,
            uri,
            offer.realm,
            offer.algorithm.name,
            nc,
        )
        return str(make_auth_parameters("Digest", quoted, bare))


def _choose_qop(challenge: AuthParameters) -> str | None:
    """``auth``, else ``auth-int``; None without qop; "" when none offered is known."""
    if challenge.get("qop") is None:
        return None
    options = challenge.qop_options
    for preferred in ("auth", "auth-int"):
        if preferred in options:
            return preferred
    return ""


def _realm_of(value: str, header: str) -> str | None:
    """The realm of a credentials header value, None if it has none or is malformed."""
    try:
        return AuthParameters.parse(value, header).realm
    except RemoteProtocolError:
        return None


def _carried_nonces(request: Request, header: str) -> dict[str, str | None]:
    """Realm → nonce of the ``header`` credentials ``request`` carries."""
    carried: dict[str, str | None] = {}
    for value in request.headers.get_all(header):
        try:
            credentials = AuthParameters.parse(value, header)
        except RemoteProtocolError:
            continue
        if credentials.realm is not None:
            carried[credentials.realm] = credentials.nonce
    return carried


def _carried_keys(request: Request) -> set[tuple[str, str]]:
    """(header key, realm) of every credentials header ``request`` carries."""
    keys: set[tuple[str, str]] = set()
    for header in _CREDENTIALS_KEYS:
        keys.update((header, realm) for realm in _carried_nonces(request, header))
    return keys
