"""SDP's lexical grammar (RFC 8866 §9) and the checks shared by its wire types.

Parsing helpers raise ``RemoteProtocolError`` (status hint 400): the text came from
the network.  ``check*`` helpers raise ``LocalProtocolError``: they guard values our
own code put into a wire type, so that ``bytes()`` can never write a broken line.
"""

from __future__ import annotations

import re

from phoneagent.sip.errors import LocalProtocolError, RemoteProtocolError

ENCODING = "utf-8"
ENCODING_ERRORS = "surrogateescape"

# -- grammar (RFC 8866 §9) -------------------------------------------------------------
# token-char = ALPHA / DIGIT / "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "."
#              / "^" / "_" / "`" / "{" / "|" / "}" / "~"     (%x21 / %x23-27 / %x2A-2B /
#              %x2D-2E / %x30-39 / %x41-5A / %x5E-7E)
TOKEN = r"[!#-'*+\-.0-9A-Z^-~]+"
TOKEN_RE = re.compile(TOKEN)
# proto = token *("/" token)
PROTO_RE = re.compile(rf"{TOKEN}(?:/{TOKEN})*")
# non-ws-string = 1*(VCHAR / %x80-FF)
NON_WS_RE = re.compile(r"[^\x00-\x20\x7f]+")
# byte-string = 1*(%x01-09 / %x0B-0C / %x0E-FF): text may hold anything but NUL, CR, LF.
NOT_TEXT_RE = re.compile(r"[\x00\r\n]")
_FIELD_SEPARATOR_RE = re.compile(" +")
#: No number we read needs more digits (o= ids are 64-bit in practice, t= 10 digits);
#: the cap keeps int() linear and clear of Python's 4300-digit conversion limit.
MAX_DIGITS = 64
_DIGITS_RE = re.compile(f"[0-9]{{1,{MAX_DIGITS}}}")
# ptime-value = non-zero-int-or-real   (RFC 8866 §6.4; milliseconds)
DECIMAL_RE = re.compile(r"[0-9]{1,10}(?:\.[0-9]{1,10})?")
MAX_PAYLOAD_TYPE = 127


def show(text: str) -> str:
    return repr(text if len(text) <= 80 else text[:80] + "…")


def remote_error(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, status_hint=400)


def integer(text: str, what: str, maximum: int | None = None) -> int:
    """A run of ASCII digits (``str.isdigit`` would also take "²" and friends)."""
    if _DIGITS_RE.fullmatch(text) is None:
        raise remote_error(f"{what} is not a number: {show(text)}")
    value = int(text)
    if maximum is not None and value > maximum:
        raise remote_error(f"{what} is out of range: {text}")
    return value


def split_fields(value: str, what: str, minimum: int, maximum: int | None = None) -> list[str]:
    """Split a line's value on spaces (one by the grammar; runs tolerated)."""
    parts = _FIELD_SEPARATOR_RE.split(value.strip(" "))
    if parts == [""]:
        parts = []
    if len(parts) < minimum or (maximum is not None and len(parts) > maximum):
        raise remote_error(f"malformed {what}: {show(value)}")
    return parts


# -- construction checks (our own values: LocalProtocolError) ---------------------------


def check(condition: bool, problem: str) -> None:
    if not condition:
        raise LocalProtocolError(problem)


def check_text(value: str, what: str) -> None:
    check(NOT_TEXT_RE.search(value) is None, f"{what} holds NUL, CR or LF: {value!r}")


def check_token(value: str, what: str) -> None:
    check(TOKEN_RE.fullmatch(value) is not None, f"{what} is not a token: {value!r}")


def check_non_ws(value: str, what: str) -> None:
    check(NON_WS_RE.fullmatch(value) is not None, f"{what} is empty or has spaces: {value!r}")


def check_number(value: int, what: str, maximum: int | None = None) -> None:
    check(
        0 <= value < 10**MAX_DIGITS and (maximum is None or value <= maximum),
        f"{what} out of range: {value!r}",
    )
