"""Reusable Hypothesis strategies for the SIP layer's wire types.

``sip_uris()``, ``tel_uris()``, ``absolute_uris()`` and ``uris()`` build valid
URI objects with awkward contents: characters every part must escape, NUL and
DEL, non-ASCII text and octets that are not UTF-8 (held as the lone surrogates
of ``surrogateescape``), IPv4/IPv6/host names and every port.  Every string
they hold is canonical: unescaping its escaped form gives it back.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

from phoneagent.sip.uri import AbsoluteUri, SipUri, TelUri, Uri

# Each kind of character a URI part may hold or must escape.
_AWKWARD_ALPHABET = (
    "aZ09-_.!~*'()"  # unreserved
    "&=+$,;?/:@[]"  # reserved in one part or another
    '%# \t\r\n"<>\\^`{|}'  # never allowed literally
    "\x00\x7f\u00e9\u20ac\U0001f600"  # controls and non-ASCII
)
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def awkward_text(min_size: int = 0, max_size: int = 10) -> st.SearchStrategy[str]:
    """Text that needs escaping, including non-UTF-8 octets decoded with surrogateescape."""
    return st.one_of(
        st.text(alphabet=_AWKWARD_ALPHABET, min_size=min_size, max_size=max_size),
        st.binary(min_size=min_size, max_size=max_size).map(
            lambda data: data.decode("utf-8", "surrogateescape")
        ),
    )


def hostnames() -> st.SearchStrategy[str]:
    """``*( domainlabel "." ) toplabel [ "." ]``, with the "_" we tolerate."""
    domain_label = st.from_regex(r"[A-Za-z0-9_]([A-Za-z0-9_\-]{0,6}[A-Za-z0-9_])?", fullmatch=True)
    top_label = st.from_regex(r"[A-Za-z]([A-Za-z0-9_\-]{0,6}[A-Za-z0-9_])?", fullmatch=True)
    return st.builds(
        lambda labels, top, dot: "".join(label + "." for label in labels) + top + dot,
        st.lists(domain_label, max_size=3),
        top_label,
        st.sampled_from(["", "."]),
    )


def ipv6_hosts() -> st.SearchStrategy[str]:
    """IPv6 addresses (no brackets) written compressed, exploded or in upper case."""
    return st.builds(
        lambda address, form: form(address),
        st.ip_addresses(v=6),
        st.sampled_from([str, lambda a: a.exploded, lambda a: str(a).upper()]),
    )


def hosts() -> st.SearchStrategy[str]:
    return st.one_of(hostnames(), st.ip_addresses(v=4).map(str), ipv6_hosts())


def _parameter_names() -> st.SearchStrategy[str]:
    known = st.sampled_from(["transport", "user", "method", "ttl", "maddr", "lr"])
    return st.one_of(known, awkward_text(min_size=1).map(lambda name: name.translate(_ASCII_LOWER)))


def sip_parameters() -> st.SearchStrategy[tuple[tuple[str, str | None], ...]]:
    values = st.one_of(st.none(), awkward_text(min_size=1))
    return st.lists(st.tuples(_parameter_names(), values), max_size=4).map(tuple)


def sip_headers() -> st.SearchStrategy[tuple[tuple[str, str], ...]]:
    return st.lists(st.tuples(awkward_text(min_size=1), awkward_text()), max_size=3).map(tuple)


@st.composite
def sip_uris(draw: st.DrawFn) -> SipUri:
    """Valid ``SipUri`` objects (sip and sips) with awkward parts."""
    user = draw(st.one_of(st.none(), awkward_text(min_size=1)))
    password = None if user is None else draw(st.one_of(st.none(), awkward_text()))
    return SipUri(
        scheme=draw(st.sampled_from(["sip", "sips"])),
        user=user,
        password=password,
        host=draw(hosts()),
        port=draw(st.one_of(st.none(), st.integers(0, 65535))),
        parameters=draw(sip_parameters()),
        headers=draw(sip_headers()),
    )


_SEPARATED = r"[0-9\-.()]{0,4}"


@st.composite
def tel_uris(draw: st.DrawFn) -> TelUri:
    """Valid ``TelUri`` objects: global numbers, and local ones with a phone-context."""
    parameters: list[tuple[str, str | None]] = []
    if draw(st.booleans()):
        number = draw(st.from_regex(rf"\+{_SEPARATED}[0-9]{_SEPARATED}", fullmatch=True))
    else:
        number = draw(
            st.from_regex(r"[0-9A-Fa-f*#\-.()]{0,4}[0-9A-Fa-f*#][0-9a-f*#]{0,4}", fullmatch=True)
        )
        context = st.one_of(
            hostnames(), st.from_regex(rf"\+{_SEPARATED}[0-9]{_SEPARATED}", fullmatch=True)
        )
        parameters.append(("phone-context", draw(context)))
    if draw(st.booleans()):
        parameters.append(("ext", draw(st.from_regex(r"[0-9\-.()]{1,6}", fullmatch=True))))
    if draw(st.booleans()):
        parameters.append(("isub", draw(awkward_text(min_size=1))))
    names = st.from_regex(r"[a-z0-9\-]{1,8}", fullmatch=True).filter(
        lambda name: name not in ("ext", "isub", "phone-context")
    )
    extra = st.tuples(names, st.one_of(st.none(), awkward_text(min_size=1)))
    parameters += draw(st.lists(extra, max_size=3))
    return TelUri(number, tuple(draw(st.permutations(parameters))))


def absolute_uris() -> st.SearchStrategy[AbsoluteUri]:
    """Opaque URIs of other schemes (``mailto:``, ``urn:``, invented ones)."""
    schemes = st.from_regex(r"[a-z][a-z0-9+\-.]{0,8}", fullmatch=True).filter(
        lambda scheme: scheme not in ("sip", "sips", "tel")
    )
    rest = st.text(
        alphabet=st.characters(
            exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"], exclude_characters="<>"
        ),
        min_size=1,
        max_size=20,
    ).filter(lambda text: not any(char.isspace() for char in text))
    return st.builds(AbsoluteUri, schemes, rest)


def uris() -> st.SearchStrategy[Uri]:
    """Any valid URI object."""
    return st.one_of(sip_uris(), tel_uris(), absolute_uris())
