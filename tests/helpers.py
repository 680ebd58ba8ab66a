"""Shared test helpers: where the shared reference material lives."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
#: ../shared beside the checkout (CI puts it there; a missing one is a failure, not a skip).
SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus"


def corpus_file(*parts: str) -> Path:
    """A file of ../shared/corpus; fails loudly when the corpus is missing."""
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is missing: the tests need ../shared/corpus beside the checkout"
        )
    return path


def lf_to_crlf(data: bytes) -> bytes:
    """RFC 5118's archive uses bare LF; SIP on the wire needs CRLF."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
