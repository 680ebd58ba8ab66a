"""The phone's own state machine: what the hook, the keys and the calls mean.

Theory of operation
-------------------
``PhoneMachine`` is sans-IO (DESIGN.md principles 1–4): the adapter feeds it
:mod:`~phoneagent.phone.events` inputs with the time (``handle(event, now)``), drains
its commands (``next_command()``), and arms one timer for ``get_timer()``, calling
``handle_timer(now)`` when it is due.  Every timeout — first digit, inter-digit, the
call-ended tone, the howler, the ringer's cadence, auto-answer — is a deadline field.

The states and the main arrows (the handset is "up" or "down")::

    IDLE --handset up--> DIAL_TONE --key--> DIALING --plan complete, # or timeout--> CALLING
     |  ^                    |                 |                                       | answered
     |  | handset down       | no key:         | no pattern can match:                 v
     |  | (any state with    | first_digit_    v                       CONNECTED <--flash--> ON_HOLD
     |  |  the handset up)   | timeout       ENDED <-- a call ends or fails (handset up)
     |  |                    v                 | ended_tone_seconds
     |  |                  HOWLER <------------'
     |  |                    | howler_seconds
     |  |                    v
     |  |                  LOCKOUT (silence until the handset goes down)
     v  |
    RINGING --handset up / console answer / auto-answer--> CONNECTED

* A call that ends while the handset is off hook leaves ENDED playing a tone chosen by
  the stack's reason (:data:`ENDED_TONES`); one that ends hands-free (handset on hook)
  goes straight to IDLE.  ``hands_free`` is no separate mode: it is a call (CALLING,
  CONNECTED) while the handset is on hook — answered by auto-answer or the console;
  lifting the handset moves it there.
* Call waiting (``call_waiting``): a second incoming call during a call waits silently
  for the ringer, beeping ``call_waiting`` in the earpiece; a flash holds the current
  call and answers the waiting one, later flashes swap the two.  Hanging up with a
  call held or waiting hangs up the active one, then the other rings (a held call
  "recalls": lifting the handset resumes it).  When the far end of the active call
  clears with the handset up, a held call is left ON_HOLD (flash resumes it) and a
  waiting one keeps waiting under the ended tone (flash takes it, hanging up makes it
  ring); the console's hang-up takes a waiting call at once.  At most two calls
  exist; a third caller, or any caller while dialling or hearing a tone, gets 486
  (Busy Here, RFC 3261 §21.4.24); with do-not-disturb every caller gets 480 (§21.4.18).
* Dialling: after each key the dial plan (:mod:`~phoneagent.phone.dialplan`) decides
  — dial now, wait, or number unobtainable.  ``#`` after at least one key ends
  dialling unless the plan, a speed-dial key or a feature code continues with it.
  Speed dials are looked up when dialling ends; ``*78``/``*79`` switch
  do-not-disturb on/off locally and give a fresh dial tone.

Which inputs each state takes is the table :data:`TRANSITIONS` (state, input type) →
handler.  A user action with no entry is what a real phone ignores (a key while idle,
a flash during dial tone): it is logged at debug level, never an error.  What the
stack reports about a call (progress, answer, end) is dispatched by the call's line:
an event for a line the machine already let go of (it hung up while the report was
on its way — calls race) is logged and ignored.  ``LocalProtocolError`` is raised
only for adapter bugs: an ``IncomingCall`` whose line ``new_line()`` did not issue
(or which is in use), a call event for a line never issued, a key outside
``0-9 * # A-D``, an input type the machine does not know.  ``_set_state`` is the
only place the state changes: it logs ``old -> new`` once, emits ``StateChanged``,
clears the old state's deadlines and stops the ringer on leaving RINGING.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any

from phoneagent.phone.dialplan import (
    FEATURE_CODES,
    Match,
    call_target,
    classify,
    hash_ends_dialling,
    remote_target,
)
from phoneagent.phone.events import (
    CallAnswered,
    CallEnded,
    CallProgressed,
    ConnectAudio,
    DoNotDisturbChanged,
    HandsFreeAnswer,
    HandsFreeDial,
    HandsFreeHangUp,
    HookFlash,
    HookOff,
    HookOn,
    IncomingCall,
    KeyPress,
    MessagesWaiting,
    PhoneCommand,
    PhoneInput,
    PlaceCall,
    PlayTone,
    RegistrationChanged,
    RejectCall,
    SendDtmf,
    SetDoNotDisturb,
    SetIndicator,
    SetRinger,
    StateChanged,
)
from phoneagent.phone.lines import Call, Calls
from phoneagent.phone.settings import PhoneSettings
from phoneagent.sip.errors import LocalProtocolError

__all__ = [
    "ENDED_TONES",
    "KEYS",
    "TRANSITIONS",
    "PhoneMachine",
    "PhoneState",
]

log = logging.getLogger(__name__)

KEYS = frozenset("0123456789*#ABCD")
#: ``CallEnded.reason`` → the tone heard when a call ends with the handset off hook.
#: The far end refusing or clearing sounds like busy (as the network plays it after a
#: clear-back); a number that does not exist gets the special information tone; a
#: network or timeout failure gets congestion ("all circuits busy", "fast busy").
ENDED_TONES: dict[str, str] = {
    "busy": "busy",
    "declined": "busy",
    "remote-hangup": "busy",
    "local-hangup": "busy",
    "cancelled": "busy",
    "unobtainable": "unobtainable",
    "timeout": "congestion",
    "failed": "congestion",
}
_REJECT_BUSY = 486  # Busy Here (RFC 3261 §21.4.24)
_REJECT_DND = 480  # Temporarily Unavailable (RFC 3261 §21.4.18)


class PhoneState(Enum):
    IDLE = "idle"
    DIAL_TONE = "dial-tone"
    DIALING = "dialing"
    CALLING = "calling"
    CONNECTED = "connected"
    ON_HOLD = "on-hold"
    ENDED = "ended"
    HOWLER = "howler"
    LOCKOUT = "lockout"
    RINGING = "ringing"


class _Timer(Enum):
    DIGIT = "digit"  # first-digit (DIAL_TONE) or inter-digit (DIALING) timeout
    ENDED_TONE = "ended-tone"
    HOWLER = "howler"
    RING_STEP = "ring-step"
    AUTO_ANSWER = "auto-answer"


class PhoneMachine:
    """The phone's state machine (see the module docstring)."""

    def __init__(self, settings: PhoneSettings, now: float) -> None:
        self.settings = settings
        self._now = now
        self._state = PhoneState.IDLE
        self._calls = Calls()
        self._commands: deque[PhoneCommand] = deque()
        self._deadlines: dict[_Timer, float] = {}
        self._digits = ""
        self._hook_off = False
        self._dnd = settings.do_not_disturb
        #: What each LED shows now: commands go out only on a change.
        self._indicators: dict[str, bool] = {"registered": False, "message_waiting": False}
        self._tone: str | None = None
        self._audio_line: int | None = None
        self._ringer_on = False
        self._ring_step = 0

    # ------------------------------------------------------------------ public view

    @property
    def state(self) -> PhoneState:
        return self._state

    @property
    def tone(self) -> str | None:
        """The tone the earpiece plays (the last ``PlayTone``)."""
        return self._tone

    @property
    def audio_line(self) -> int | None:
        """Whose call the handset carries (the last ``ConnectAudio``)."""
        return self._audio_line

    @property
    def ringer_on(self) -> bool:
        return self._ringer_on

    @property
    def hook_off(self) -> bool:
        return self._hook_off

    @property
    def hands_free(self) -> bool:
        """A call is up while the handset is on hook (auto-answer, console)."""
        return not self._hook_off and self._state in (PhoneState.CALLING, PhoneState.CONNECTED)

    @property
    def do_not_disturb(self) -> bool:
        return self._dnd

    @property
    def registered(self) -> bool:
        return self._indicators["registered"]

    @property
    def digits(self) -> str:
        """The keys collected while dialling."""
        return self._digits

    @property
    def lines(self) -> tuple[int, ...]:
        """The lines of the calls the machine knows (active, held, waiting)."""
        return self._calls.lines()

    def new_line(self) -> int:
        """A line number for an incoming call, to put in its ``IncomingCall``."""
        return self._calls.new_line(for_adapter=True)

    # ------------------------------------------------------------------ sans-IO interface

    def handle(self, event: PhoneInput, now: float) -> None:
        self._now = now
        kind = type(event)
        if isinstance(event, IncomingCall):
            self._calls.claim(event.line)
        elif isinstance(event, CallProgressed | CallAnswered | CallEnded):
            self._calls.check_issued(event.line)
            self._on_call_event(event)
            self._sync_in_call()
            return
        elif isinstance(event, KeyPress) and event.key not in KEYS:
            raise LocalProtocolError(f"phone: {event.key!r} is not a key (0-9, *, #, A-D)")
        elif isinstance(event, RegistrationChanged):
            self._indicate("registered", event.registered)
            return
        elif isinstance(event, SetDoNotDisturb):
            self._set_dnd(event.on)
            return
        elif isinstance(event, MessagesWaiting):
            self._indicate("message_waiting", event.waiting)
            return
        elif kind not in _INPUT_TYPES:
            raise LocalProtocolError(f"phone: unknown input {event!r}")
        if not self._hook_matters(event):
            log.debug("phone: %s ignored, the handset is already there", event)
            return
        if isinstance(event, HookOff | HookOn):
            self._hook_off = isinstance(event, HookOff)
        handler = TRANSITIONS.get((self._state, kind))
        if handler is None:
            log.debug("phone: %s ignored in state %s", event, self._state.value)
        else:
            handler(self, event)
        self._sync_in_call()

    def next_command(self) -> PhoneCommand | None:
        return self._commands.popleft() if self._commands else None

    def get_timer(self) -> float | None:
        return min(self._deadlines.values(), default=None)

    def handle_timer(self, now: float) -> None:
        """Fire every deadline due at ``now``, earliest first."""
        self._now = now
        while True:
            due = [(at, timer) for timer, at in self._deadlines.items() if at <= now]
            if not due:
                break
            at, timer = min(due, key=lambda item: item[0])
            del self._deadlines[timer]
            self._fire(timer, at)
        self._sync_in_call()

    # ------------------------------------------------------------------ internals

    def _hook_matters(self, event: PhoneInput) -> bool:
        """Hook events that repeat what the machine knows (a second HookOff, a flash or
        HookOn with the handset down) are ignored."""
        if isinstance(event, HookOff):
            return not self._hook_off
        if isinstance(event, HookOn | HookFlash):
            return self._hook_off
        return True

    def _set_state(self, new: PhoneState) -> None:
        old = self._state
        if new is old:
            return
        self._state = new
        log.info("phone: %s -> %s", old.value, new.value)
        self._commands.append(StateChanged(old.value, new.value))
        self._deadlines.clear()  # every deadline belongs to one state
        if old is PhoneState.RINGING:
            self._set_ringer(False)
        if new not in (PhoneState.DIAL_TONE, PhoneState.DIALING):
            self._digits = ""

    def _arm(self, timer: _Timer, at: float) -> None:
        self._deadlines[timer] = at

    def _play(self, tone: str | None) -> None:
        if tone != self._tone:
            self._tone = tone
            self._commands.append(PlayTone(tone))

    def _connect(self, line: int | None) -> None:
        if line != self._audio_line:
            self._audio_line = line
            self._commands.append(ConnectAudio(line))

    def _set_ringer(self, on: bool) -> None:
        if on != self._ringer_on:
            self._ringer_on = on
            self._commands.append(SetRinger(on))

    def _set_dnd(self, on: bool) -> None:
        self._dnd = on
        log.info("phone: do-not-disturb %s", "on" if on else "off")
        self._commands.append(DoNotDisturbChanged(on))

    def _sync_in_call(self) -> None:
        self._indicate("in_call", self._calls.any_answered())

    def _indicate(self, name: str, on: bool) -> None:
        if self._indicators.get(name, False) != on:
            self._indicators[name] = on
            self._commands.append(SetIndicator(name, on))

    def _fire(self, timer: _Timer, at: float) -> None:
        if timer is _Timer.DIGIT:
            if self._state is PhoneState.DIALING:
                self._finish_dialling()
            else:
                log.info("phone: no key for %.0f s", self.settings.first_digit_timeout)
                self._enter_howler(at)
        elif timer is _Timer.ENDED_TONE:
            self._enter_howler(at)
        elif timer is _Timer.HOWLER:
            self._set_state(PhoneState.LOCKOUT)
            self._play(None)
        elif timer is _Timer.RING_STEP:
            cadence = self.settings.ring_cadence
            self._ring_step = (self._ring_step + 1) % len(cadence)
            seconds, on = cadence[self._ring_step]
            self._set_ringer(on)
            # From the deadline, not from now: the cadence does not drift; but a timer
            # served very late starts this step now instead of replaying missed ones.
            next_at = at + seconds
            self._arm(_Timer.RING_STEP, next_at if next_at > self._now else self._now + seconds)
        else:  # _Timer.AUTO_ANSWER
            log.info("phone: auto-answer")
            self._answer_ringing()

    # ------------------------------------------------------------------ entering states

    def _enter_idle(self) -> None:
        self._set_state(PhoneState.IDLE)
        self._play(None)
        self._connect(None)

    def _enter_dial_tone(self) -> None:
        self._set_state(PhoneState.DIAL_TONE)
        self._digits = ""
        # Stutter dial tone is the desk phone's voicemail reminder (Telcordia GR-506).
        self._play("stutter" if self._indicators["message_waiting"] else "dial")
        self._connect(None)
        self._arm(_Timer.DIGIT, self._now + self.settings.first_digit_timeout)

    def _enter_ended(self, tone: str) -> None:
        self._set_state(PhoneState.ENDED)
        self._play(tone)
        self._connect(None)
        self._arm(_Timer.ENDED_TONE, self._now + self.settings.ended_tone_seconds)

    def _enter_howler(self, at: float) -> None:
        self._set_state(PhoneState.HOWLER)
        self._play("howler")
        self._arm(_Timer.HOWLER, at + self.settings.howler_seconds)

    def _enter_ringing(self) -> None:
        """The active call rings (a new one, a waiting one after hang-up, a held recall)."""
        self._set_state(PhoneState.RINGING)  # RINGING again: restart the cadence below
        self._play(None)
        self._connect(None)
        self._deadlines.clear()
        self._ring_step = 0
        seconds, on = self.settings.ring_cadence[0]
        self._set_ringer(on)
        self._arm(_Timer.RING_STEP, self._now + seconds)

    def _show_call(self) -> None:
        """CONNECTED: the handset carries the active call; a waiting call beeps over it."""
        active = self._calls.active
        if active is None:
            raise LocalProtocolError("phone: connected without an active call")
        self._set_state(PhoneState.CONNECTED)
        self._connect(active.line)
        self._play("call_waiting" if self._calls.waiting else None)

    def _enter_on_hold(self) -> None:
        self._set_state(PhoneState.ON_HOLD)
        self._connect(None)
        self._play("call_waiting" if self._calls.waiting else None)

    def _settle(self, tone: str | None) -> None:
        """The foreground call is gone (``tone``: by the far end, None: by us): what now.

        Handset down: a held call recalls, else a waiting call rings, else IDLE.
        Handset up: ON_HOLD with a held call; after our own hang-up a waiting call is
        taken, else dial tone; after the far end's, the ended tone.
        """
        calls = self._calls
        if calls.active is not None:
            raise LocalProtocolError("phone: settling with an active call")
        if not self._hook_off:
            if calls.ring_next():
                self._enter_ringing()
            else:
                self._enter_idle()
        elif calls.held is not None:
            self._enter_on_hold()
        elif tone is not None:
            self._enter_ended(tone)
        elif calls.waiting is not None:
            self._answer_waiting()
        else:
            self._enter_dial_tone()

    # ------------------------------------------------------------------ dialling

    def _collect_key(self, event: KeyPress) -> None:
        key = event.key
        if key in "ABCD":
            log.debug("phone: key %s ignored while dialling", key)
            return
        plan, speed_dials = self.settings.dial_plan, self.settings.speed_dials
        if key == "#" and hash_ends_dialling(self._digits, plan, speed_dials):
            self._finish_dialling()
            return
        self._set_state(PhoneState.DIALING)
        self._play(None)
        self._digits += key
        on = FEATURE_CODES.get(self._digits)
        if on is not None:
            self._set_dnd(on)
            self._enter_dial_tone()
            return
        match = classify(self._digits, plan, speed_dials)
        if match is Match.COMPLETE:
            self._finish_dialling()
        elif match is Match.NO_MATCH:
            log.info("phone: %r matches no dial-plan pattern", self._digits)
            self._enter_ended("unobtainable")
        else:
            self._arm(_Timer.DIGIT, self._now + self.settings.inter_digit_timeout)

    def _finish_dialling(self) -> None:
        digits = self._digits
        target = call_target(digits, self.settings.dial_plan, self.settings.speed_dials)
        if target is None:
            log.info("phone: %r is not a whole number of the dial plan", digits)
            self._enter_ended("unobtainable")
            return
        self._place_call(target)

    def _place_call(self, target: str) -> None:
        line = self._calls.new_line(for_adapter=False)
        self._calls.active = Call(line)
        self._set_state(PhoneState.CALLING)
        self._play(None)
        self._connect(None)
        log.info("phone: calling %s on line %d", target, line)
        self._commands.append(PlaceCall(line, target))

    # ------------------------------------------------------------------ handlers (TRANSITIONS)

    def _lift(self, event: HookOff) -> None:
        self._enter_dial_tone()

    def _to_handset(self, event: HookOff) -> None:
        log.info("phone: the call moves to the handset")

    def _answer_ringing(self, event: PhoneInput | None = None) -> None:
        self._commands.extend(self._calls.answer_active())
        self._show_call()

    def _hang_up(self, event: HookOn) -> None:
        if self._calls.active is not None:
            self._commands.extend(self._calls.release(self._calls.active))
        self._settle(None)

    def _end_current(self, event: HandsFreeHangUp) -> None:
        """Console ``hangup``: end, cancel or refuse the foreground call."""
        current = self._calls.active or self._calls.held
        if current is None:
            raise LocalProtocolError(f"phone: {self._state.value} without a call")
        self._commands.extend(self._calls.release(current))
        self._settle(None)

    def _send_dtmf(self, event: KeyPress) -> None:
        active = self._calls.active
        if active is not None:
            self._commands.append(SendDtmf(active.line, event.key))

    def _dial_remote(self, event: HandsFreeDial) -> None:
        """Console ``dial``: hands-free from IDLE, on the handset while it is off hook."""
        target = event.target.strip()
        if not target:
            log.warning("phone: dial without a target ignored")
            return
        self._place_call(remote_target(target, self.settings.dial_plan, self.settings.speed_dials))

    def _flash(self, event: HookFlash) -> None:
        """Take a waiting call; else resume our held call, swap two, or hold the one."""
        calls = self._calls
        if calls.waiting is not None:
            self._answer_waiting()
        elif self._state is PhoneState.ON_HOLD:
            self._commands.extend(calls.resume_held())
            self._show_call()
        elif self._state is PhoneState.CONNECTED and calls.held is not None:
            self._commands.extend(calls.swap())
            self._show_call()
        elif self._state is PhoneState.CONNECTED:
            self._commands.extend(calls.hold_active())
            self._enter_on_hold()
        else:
            log.debug("phone: flash ignored in state %s", self._state.value)

    def _answer_waiting_if_any(self, event: HandsFreeAnswer) -> None:
        if self._calls.waiting is not None:
            self._answer_waiting()
        else:
            log.debug("phone: answer ignored in state %s, nothing waits", self._state.value)

    def _answer_waiting(self) -> None:
        self._commands.extend(self._calls.take_waiting())
        self._show_call()

    def _ring_incoming(self, event: IncomingCall) -> None:
        if self._dnd:
            self._reject(event, _REJECT_DND)
            return
        log.info("phone: incoming call from %s on line %d", event.caller, event.line)
        self._calls.active = Call(event.line)
        self._enter_ringing()
        if self.settings.auto_answer:
            self._arm(_Timer.AUTO_ANSWER, self._now + self.settings.auto_answer_delay)

    def _offer_waiting(self, event: IncomingCall) -> None:
        calls = self._calls
        if self._dnd:
            self._reject(event, _REJECT_DND)
        elif (
            not self.settings.call_waiting
            or calls.waiting is not None
            or calls.count() >= Calls.MAX_CALLS
        ):
            self._reject(event, _REJECT_BUSY)
        else:
            log.info("phone: call from %s waits on line %d", event.caller, event.line)
            calls.waiting = Call(event.line)
            self._play("call_waiting")

    def _reject_busy(self, event: IncomingCall) -> None:
        self._reject(event, _REJECT_DND if self._dnd else _REJECT_BUSY)

    def _reject(self, event: IncomingCall, code: int) -> None:
        log.info("phone: call from %s on line %d refused (%d)", event.caller, event.line, code)
        self._commands.append(RejectCall(event.line, code))

    # ------------------------------------------------------------------ what the stack reports

    def _on_call_event(self, event: CallProgressed | CallAnswered | CallEnded) -> None:
        call = self._calls.find(event.line)
        if call is None:
            log.debug("phone: %s for a line no longer in use here, ignored", event)
            return
        ours = call is self._calls.active and self._state is PhoneState.CALLING
        if isinstance(event, CallEnded):
            self._call_ended(call, event)
        elif not ours:
            log.debug("phone: %s ignored in state %s", event, self._state.value)
        elif isinstance(event, CallProgressed):
            if event.early_media:  # the network's own ringback or announcement
                self._play(None)
                self._connect(call.line)
            else:
                self._play("ringback")
                self._connect(None)
        else:
            call.answered = True
            self._show_call()

    def _call_ended(self, call: Call, event: CallEnded) -> None:
        calls = self._calls
        foreground = call is calls.active or (
            call is calls.held and self._state is PhoneState.ON_HOLD
        )
        calls.forget(call)
        code = "" if event.code is None else f" {event.code}"
        log.info("phone: line %d ended (%s%s)", call.line, event.reason, code)
        if foreground:
            self._settle(_ended_tone(event.reason))
        elif self._tone == "call_waiting" and calls.waiting is None:
            self._play(None)


def _ended_tone(reason: str) -> str:
    tone = ENDED_TONES.get(reason)
    if tone is None:
        log.warning("phone: unknown call-end reason %r, playing congestion", reason)
        return "congestion"
    return tone


_S = PhoneState
_Handler = Callable[[PhoneMachine, Any], None]
_M = PhoneMachine

#: (state, input type) → handler, for what the user does and for incoming calls.
#: Pairs not listed are user actions a real phone ignores there (logged at debug).
TRANSITIONS: dict[tuple[PhoneState, type[PhoneInput]], _Handler] = {
    (_S.IDLE, HookOff): _M._lift,
    (_S.IDLE, HandsFreeDial): _M._dial_remote,
    (_S.IDLE, IncomingCall): _M._ring_incoming,
    (_S.DIAL_TONE, KeyPress): _M._collect_key,
    (_S.DIAL_TONE, HandsFreeDial): _M._dial_remote,
    (_S.DIALING, KeyPress): _M._collect_key,
    (_S.DIALING, HandsFreeDial): _M._dial_remote,
    (_S.CALLING, HookOff): _M._to_handset,
    (_S.CALLING, HandsFreeHangUp): _M._end_current,
    (_S.CONNECTED, HookOff): _M._to_handset,
    (_S.CONNECTED, KeyPress): _M._send_dtmf,
    (_S.CONNECTED, HookFlash): _M._flash,
    (_S.CONNECTED, HandsFreeAnswer): _M._answer_waiting_if_any,
    (_S.CONNECTED, HandsFreeHangUp): _M._end_current,
    (_S.CONNECTED, IncomingCall): _M._offer_waiting,
    (_S.ON_HOLD, HookFlash): _M._flash,
    (_S.ON_HOLD, HandsFreeAnswer): _M._answer_waiting_if_any,
    (_S.ON_HOLD, HandsFreeHangUp): _M._end_current,
    (_S.ON_HOLD, IncomingCall): _M._offer_waiting,
    (_S.RINGING, HookOff): _M._answer_ringing,
    (_S.RINGING, HandsFreeAnswer): _M._answer_ringing,
    (_S.RINGING, HandsFreeHangUp): _M._end_current,
    **{(state, HookOn): _M._hang_up for state in _S if state not in (_S.IDLE, _S.RINGING)},
    **{
        (state, kind): handler
        for state in (_S.ENDED, _S.HOWLER, _S.LOCKOUT)
        for kind, handler in ((HookFlash, _M._flash), (HandsFreeAnswer, _M._answer_waiting_if_any))
    },
    **{
        (state, IncomingCall): _M._reject_busy
        for state in (
            _S.DIAL_TONE,
            _S.DIALING,
            _S.CALLING,
            _S.ENDED,
            _S.HOWLER,
            _S.LOCKOUT,
            _S.RINGING,
        )
    },
}

#: Every input the machine knows: the user's (all in the table), the global ones, the stack's.
_INPUT_TYPES: frozenset[type[PhoneInput]] = frozenset(kind for _, kind in TRANSITIONS) | {
    SetDoNotDisturb,
    RegistrationChanged,
    MessagesWaiting,
    CallProgressed,
    CallAnswered,
    CallEnded,
}
