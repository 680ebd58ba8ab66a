"""The header section of a SIP message: an ordered, case-insensitive multi-map.

RFC 3261 §7.3: header names are case-insensitive, several header fields of the
same name may appear, and their relative order matters (Via, Route,
Record-Route).  Unknown headers are kept, in order, untouched.  A name may be
written in its compact form (§7.3.3 and the forms registered since, IANA "SIP
Parameters → Header Fields"); lookups accept either form and the serialised
message keeps the form it was received or added in.

Values are stored unfolded (§7.3.1: a CRLF followed by whitespace is
equivalent to one SP) and otherwise as received, so a parsed message
serialises back with every value intact.  Typed views of the values live in
``phoneagent.sip.message``; this module only stores text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from phoneagent.sip.errors import LocalProtocolError
from phoneagent.sip.grammar import is_token

T = TypeVar("T")

#: Compact form → full name (RFC 3261 §7.3.3, RFC 3841, RFC 3892, RFC 3515,
#: RFC 4028, RFC 4474, RFC 6665, RFC 8224).
COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_COMPACT_KEYS = {short: full.lower() for short, full in COMPACT_FORMS.items()}


_KEY_CACHE: dict[str, str] = {}
_KEY_CACHE_LIMIT = 512  # names seen on the wire; bounded so odd names cannot grow it


def header_key(name: str) -> str:
    """The lookup key of a header name: lowercase, compact forms expanded."""
    key = _KEY_CACHE.get(name)
    if key is None:
        key = name.lower()
        if len(key) == 1:
            key = _COMPACT_KEYS.get(key, key)
        if len(_KEY_CACHE) < _KEY_CACHE_LIMIT:
            _KEY_CACHE[name] = key
    return key


class Headers:
    """Ordered header fields of one message.

    Each entry is a (name as written, value) pair.  Methods taking a name
    accept any case and the compact form.  An index by lookup key and the typed
    views parsed from the values are cached here and dropped whenever the
    headers change, so that a typed accessor never returns a stale value.
    """

    __slots__ = ("_cache", "_entries", "_index")

    def __init__(self, entries: Iterable[tuple[str, str]] = ()) -> None:
        self._entries: list[tuple[str, str, str]] = []
        self._index: dict[str, list[str]] | None = None
        self._cache: dict[str, object] = {}
        for name, value in entries:
            self.add(name, value)

    @classmethod
    def _from_parsed(
        cls, entries: list[tuple[str, str, str]], index: dict[str, list[str]] | None = None
    ) -> Headers:
        """Adopt (name, key, value) triples the message parser already checked."""
        headers = cls.__new__(cls)
        headers._entries = entries
        headers._index = index
        headers._cache = {}
        return headers

    def _changed(self) -> None:
        self._index = None
        self._cache.clear()

    @property
    def index(self) -> dict[str, list[str]]:
        """Values by lookup key (read-only by convention): one dict lookup per query."""
        index = self._index
        if index is None:
            index = {}
            for _, key, value in self._entries:
                if key in index:
                    index[key].append(value)
                else:
                    index[key] = [value]
            self._index = index
        return index

    # -- reading -------------------------------------------------------------

    def get(self, name: str) -> str | None:
        """The first value of ``name``, or None when absent."""
        values = self.index.get(header_key(name))
        return None if values is None else values[0]

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name`` in order, one per header field (not split on commas)."""
        return list(self.index.get(header_key(name), ()))

    def count(self, name: str) -> int:
        """How many header fields called ``name`` the message has."""
        return len(self.index.get(header_key(name), ()))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and header_key(name) in self.index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """(name as written, value) pairs in message order."""
        return ((name, value) for name, _, value in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [(k, v) for _, k, v in self._entries] == [(k, v) for _, k, v in other._entries]

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"

    def copy(self) -> Headers:
        """An independent copy (the cache is not shared)."""
        return Headers._from_parsed(list(self._entries))

    # -- changing ------------------------------------------------------------

    def add(self, name: str, value: str) -> None:
        """Append a header field at the end."""
        self._entries.append((name, header_key(_checked_name(name)), _checked_value(value)))
        self._changed()

    def insert_first(self, name: str, value: str) -> None:
        """Insert a header field before all others of that name (e.g. a new top Via);
        the first of its name goes to the very top (RFC 3261 §7.3.1 puts Via first)."""
        key = header_key(_checked_name(name))
        entry = (name, key, _checked_value(value))
        for index, (_, entry_key, _) in enumerate(self._entries):
            if entry_key == key:
                self._entries.insert(index, entry)
                break
        else:
            self._entries.insert(0, entry)
        self._changed()

    def set(self, name: str, value: str) -> None:
        """Replace every field called ``name`` by one with ``value``, keeping its place."""
        key = header_key(_checked_name(name))
        entry = (name, key, _checked_value(value))
        for index, (_, entry_key, _) in enumerate(self._entries):
            if entry_key == key:
                self._entries[index] = entry
                self._entries[index + 1 :] = [e for e in self._entries[index + 1 :] if e[1] != key]
                break
        else:
            self._entries.append(entry)
        self._changed()

    def remove(self, name: str) -> int:
        """Remove every field called ``name``; return how many were removed."""
        key = header_key(name)
        before = len(self._entries)
        self._entries = [entry for entry in self._entries if entry[1] != key]
        self._changed()
        return before - len(self._entries)

    def remove_first(self, name: str) -> str | None:
        """Remove the first field called ``name`` and return its value."""
        key = header_key(name)
        for index, (_, entry_key, value) in enumerate(self._entries):
            if entry_key == key:
                del self._entries[index]
                self._changed()
                return value
        return None

    # -- typed views ---------------------------------------------------------

    def cached(self, key: str, build: Callable[[Headers], T]) -> T:
        """Return ``build(self)``, computed once until the headers next change."""
        try:
            return self._cache[key]  # type: ignore[return-value]
        except KeyError:
            value = build(self)
            self._cache[key] = value
            return value

    def serialise_into(self, parts: list[str]) -> None:
        """Append ``name: value`` lines (without CRLF) to ``parts``."""
        parts.extend(f"{name}: {value}" for name, _, value in self._entries)


def _checked_name(name: str) -> str:
    if not is_token(name):
        raise LocalProtocolError(f"not a valid header name: {name!r}")
    return name


def _checked_value(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise LocalProtocolError(f"header value contains CR or LF: {value!r}")
    try:
        # Octets that arrived as invalid UTF-8 are kept as surrogate escapes and go back
        # out unchanged; any other lone surrogate could never be sent.
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise LocalProtocolError(f"header value cannot be encoded: {value!r}") from None
    return value
