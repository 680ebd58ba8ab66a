"""Call-line bookkeeping for the phone's state machine: which calls exist, in what role.

Every call the phone deals with has a line number from one counter: the machine takes
one for each call it places, the adapter takes one (``PhoneMachine.new_line()``) for
each incoming call before handing it in.  A line number is never reused, so an event
for a line the machine has already let go of (it hung the call up, and the stack's
report crossed that) is recognisably stale and ignored; a number that was never
issued, or an incoming call on a number already used, is the adapter's bug.

At most two calls are kept, each in one role:

* ``active``: the call in the foreground — ours being placed, the connected one the
  handset carries, or the incoming one ringing;
* ``held``: a connected call we put on hold (by flash);
* ``waiting``: an incoming call not answered yet while we are busy (call waiting).

The role changes (hold, resume, swap, take the waiting call, release) live here with
the stack commands each implies; the state machine decides when they happen.
"""

from __future__ import annotations

from dataclasses import dataclass

from phoneagent.phone.events import AnswerCall, HangUpCall, HoldCall, PhoneCommand, ResumeCall
from phoneagent.sip.errors import LocalProtocolError

__all__ = ["Call", "Calls"]


@dataclass(slots=True)
class Call:
    line: int
    answered: bool = False
    recall: bool = False  # a held call ringing us back after the handset went down


class Calls:
    """The phone's calls by role, and the line counter."""

    MAX_CALLS = 2

    def __init__(self) -> None:
        self.active: Call | None = None
        self.held: Call | None = None
        self.waiting: Call | None = None
        self._next_line = 1
        self._unclaimed: set[int] = set()  # issued to the adapter, no IncomingCall yet

    def new_line(self, *, for_adapter: bool) -> int:
        line = self._next_line
        self._next_line += 1
        if for_adapter:
            self._unclaimed.add(line)
        return line

    def claim(self, line: int) -> None:
        """An incoming call on ``line``: it must come from ``new_line()`` and be unused."""
        if line not in self._unclaimed:
            raise LocalProtocolError(
                f"phone: IncomingCall on line {line}, which new_line() did not issue "
                "or which is already in use"
            )
        self._unclaimed.discard(line)

    def check_issued(self, line: int) -> None:
        if not 1 <= line < self._next_line:
            raise LocalProtocolError(f"phone: line {line} was never issued by new_line()")

    def all(self) -> tuple[Call, ...]:
        return tuple(call for call in (self.active, self.held, self.waiting) if call is not None)

    def count(self) -> int:
        return len(self.all())

    def lines(self) -> tuple[int, ...]:
        return tuple(call.line for call in self.all())

    def find(self, line: int) -> Call | None:
        for call in self.all():
            if call.line == line:
                return call
        return None

    def forget(self, call: Call) -> None:
        """Drop ``call`` from whichever role it has."""
        if self.active is call:
            self.active = None
        elif self.held is call:
            self.held = None
        elif self.waiting is call:
            self.waiting = None
        else:
            raise LocalProtocolError(f"phone: line {call.line} is not a current call")

    def any_answered(self) -> bool:
        return any(call.answered for call in self.all())

    # ------------------------------------------------------------------ role changes

    def _require(self, call: Call | None, what: str) -> Call:
        if call is None:
            raise LocalProtocolError(f"phone: no {what} call")
        return call

    def hold_active(self) -> list[PhoneCommand]:
        """The active call goes on hold (our only call: the phone is then ON_HOLD)."""
        active = self._require(self.active, "active")
        self.active, self.held = None, active
        return [HoldCall(active.line)]

    def resume_held(self) -> list[PhoneCommand]:
        held = self._require(self.held, "held")
        self.active, self.held = held, None
        return [ResumeCall(held.line)]

    def swap(self) -> list[PhoneCommand]:
        """The active call goes on hold, the held one comes back."""
        active = self._require(self.active, "active")
        held = self._require(self.held, "held")
        self.active, self.held = held, active
        return [HoldCall(active.line), ResumeCall(held.line)]

    def take_waiting(self) -> list[PhoneCommand]:
        """Answer the waiting call; an active one goes on hold first."""
        waiting = self._require(self.waiting, "waiting")
        commands: list[PhoneCommand] = []
        if self.active is not None:
            if self.held is not None:
                raise LocalProtocolError("phone: a third call")
            commands.append(HoldCall(self.active.line))
            self.held = self.active
        waiting.answered = True
        self.active, self.waiting = waiting, None
        commands.append(AnswerCall(waiting.line))
        return commands

    def answer_active(self) -> list[PhoneCommand]:
        """Answer the ringing active call (a recall resumes the held call instead)."""
        call = self._require(self.active, "ringing")
        if call.recall:
            call.recall = False
            return [ResumeCall(call.line)]
        call.answered = True
        return [AnswerCall(call.line)]

    def ring_next(self) -> bool:
        """With the handset down and no active call: the call that should ring now
        becomes active — a held one (a recall: answering resumes it), else a waiting one.
        False when there is none."""
        if self.active is not None:
            raise LocalProtocolError("phone: a call is still active")
        if self.held is not None:
            self.active, self.held = self.held, None
            self.active.recall = True
        elif self.waiting is not None:
            self.active, self.waiting = self.waiting, None
        return self.active is not None

    def release(self, call: Call) -> list[PhoneCommand]:
        """Hang ``call`` up (end, cancel or refuse it) and forget it."""
        self.forget(call)
        return [HangUpCall(call.line)]
