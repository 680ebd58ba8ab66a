"""A seeded byte-level mutator for bounded fuzz runs (SIP messages, SDP bodies …)."""

from __future__ import annotations

import random
from collections.abc import Sequence


def mutate(
    data: bytes,
    rng: random.Random,
    pool: Sequence[bytes],
    fragments: Sequence[bytes],
    *,
    line_swaps: bool = True,
) -> bytes:
    """Apply one to four random edits: bit flips, meaningful ``fragments`` inserted, runs
    deleted or duplicated, pieces of other inputs from ``pool`` spliced in, bytes
    overwritten, the input cut short, odd numbers inserted and (``line_swaps``) CRLF lines
    swapped."""
    buffer = bytearray(data)
    choices = 9 if line_swaps else 8
    for _ in range(rng.randint(1, 4)):
        size = len(buffer)
        position = rng.randint(0, size)
        choice = rng.randrange(choices)
        if choice == 0 and size:  # flip bits of one byte
            buffer[min(position, size - 1)] ^= 1 << rng.randrange(8)
        elif choice == 1:  # insert a meaningful fragment
            buffer[position:position] = rng.choice(fragments)
        elif choice == 2 and size:  # delete a run
            del buffer[position : position + rng.randint(1, 16)]
        elif choice == 3 and size:  # duplicate a run
            start = rng.randrange(size)
            buffer[position:position] = buffer[start : start + rng.randint(1, 64)]
        elif choice == 4:  # splice in a piece of another input
            other = rng.choice(pool)
            start = rng.randrange(len(other))
            buffer[position:position] = other[start : start + rng.randint(1, 120)]
        elif choice == 5 and size:  # overwrite with a random byte
            buffer[min(position, size - 1)] = rng.randrange(256)
        elif choice == 6:  # cut the input short
            del buffer[position:]
        elif choice == 7:  # a huge or odd number
            buffer[position:position] = rng.choice([b"0", b"4294967295", b"9" * 30, b"-5"])
        else:  # swap two lines
            lines = bytes(buffer).split(b"\r\n")
            if len(lines) > 2:
                i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
                lines[i], lines[j] = lines[j], lines[i]
                buffer = bytearray(b"\r\n".join(lines))
    return bytes(buffer)
