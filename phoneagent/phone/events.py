"""What goes into the phone's state machine and what comes out of it.

Inputs are the user's actions (from the hardware layer or the console's remote
control) and what the SIP stack reports about calls; outputs are commands for the
stack (place, answer, hold … a call, identified by the machine's own line number)
and for the hardware (a tone in the earpiece, the ringer, an LED, whose call's
audio the handset carries).  All are small frozen dataclasses (DESIGN.md
principle 4); the machine never sees SIP messages or GPIO pins.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AnswerCall",
    "CallAnswered",
    "CallEnded",
    "CallProgressed",
    "ConnectAudio",
    "DoNotDisturbChanged",
    "HandsFreeAnswer",
    "HandsFreeDial",
    "HandsFreeHangUp",
    "HangUpCall",
    "HoldCall",
    "HookFlash",
    "HookOff",
    "HookOn",
    "IncomingCall",
    "KeyPress",
    "MessagesWaiting",
    "PhoneCommand",
    "PhoneInput",
    "PlaceCall",
    "PlayTone",
    "RegistrationChanged",
    "RejectCall",
    "ResumeCall",
    "SendDtmf",
    "SetDoNotDisturb",
    "SetIndicator",
    "SetRinger",
    "StateChanged",
]


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class PhoneInput:
    """Base of everything fed to ``PhoneMachine.handle(event, now)``."""


@dataclass(frozen=True, slots=True)
class HookOff(PhoneInput):
    """The handset was lifted."""


@dataclass(frozen=True, slots=True)
class HookOn(PhoneInput):
    """The handset was put down (for longer than a flash: the HAL decided)."""


@dataclass(frozen=True, slots=True)
class HookFlash(PhoneInput):
    """A flash-hook (RFC-less, but every desk phone's "recall" / "R" key)."""


@dataclass(frozen=True, slots=True)
class KeyPress(PhoneInput):
    """A key: ``0``-``9``, ``*``, ``#``, ``A``-``D``."""

    key: str


@dataclass(frozen=True, slots=True)
class HandsFreeDial(PhoneInput):
    """Remote control (console ``dial``): call ``target`` without lifting the handset."""

    target: str


@dataclass(frozen=True, slots=True)
class HandsFreeAnswer(PhoneInput):
    """Remote control (console ``answer``): answer the ringing call hands-free."""


@dataclass(frozen=True, slots=True)
class HandsFreeHangUp(PhoneInput):
    """Remote control (console ``hangup``): end, cancel or refuse the current call."""


@dataclass(frozen=True, slots=True)
class SetDoNotDisturb(PhoneInput):
    on: bool


@dataclass(frozen=True, slots=True)
class RegistrationChanged(PhoneInput):
    registered: bool


@dataclass(frozen=True, slots=True)
class MessagesWaiting(PhoneInput):
    """Voicemail (RFC 3842 message-summary): the message-waiting LED follows it."""

    waiting: bool


@dataclass(frozen=True, slots=True)
class IncomingCall(PhoneInput):
    """A new call arrived on ``line`` (the adapter numbers it with ``machine.new_line()``)."""

    line: int
    caller: str


@dataclass(frozen=True, slots=True)
class CallProgressed(PhoneInput):
    """Our call on ``line`` is ringing (``early_media``: the network plays its own tones)."""

    line: int
    early_media: bool = False


@dataclass(frozen=True, slots=True)
class CallAnswered(PhoneInput):
    line: int


@dataclass(frozen=True, slots=True)
class CallEnded(PhoneInput):
    """``reason``: ``remote-hangup``, ``local-hangup``, ``busy``, ``declined``,
    ``unobtainable`` (404/410/484/604), ``cancelled``, ``timeout``, ``failed``."""

    line: int
    reason: str
    code: int | None = None


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True, slots=True)
class PhoneCommand:
    """Base of everything ``PhoneMachine.next_command()`` returns."""


@dataclass(frozen=True, slots=True)
class PlaceCall(PhoneCommand):
    """Call ``target``: digits (to ``sip:DIGITS@domain``), ``+E.164``, or a URI."""

    line: int
    target: str


@dataclass(frozen=True, slots=True)
class AnswerCall(PhoneCommand):
    line: int


@dataclass(frozen=True, slots=True)
class RejectCall(PhoneCommand):
    line: int
    code: int  # 486 busy here, 480 do-not-disturb, 603 declined


@dataclass(frozen=True, slots=True)
class HangUpCall(PhoneCommand):
    """End, cancel or (not yet answered incoming) refuse with 603."""

    line: int


@dataclass(frozen=True, slots=True)
class HoldCall(PhoneCommand):
    line: int


@dataclass(frozen=True, slots=True)
class ResumeCall(PhoneCommand):
    line: int


@dataclass(frozen=True, slots=True)
class SendDtmf(PhoneCommand):
    line: int
    digit: str


@dataclass(frozen=True, slots=True)
class PlayTone(PhoneCommand):
    """Play ``name`` (a ``media.tones`` plan entry) in the earpiece; ``None``: stop.

    Call audio and a tone may overlap (call waiting beeps over the call): the
    earpiece mixes them.
    """

    name: str | None


@dataclass(frozen=True, slots=True)
class SetRinger(PhoneCommand):
    on: bool


@dataclass(frozen=True, slots=True)
class SetIndicator(PhoneCommand):
    name: str  # hal.interfaces.INDICATOR_NAMES
    on: bool


@dataclass(frozen=True, slots=True)
class ConnectAudio(PhoneCommand):
    """The handset carries ``line``'s audio (``None``: no call's)."""

    line: int | None


@dataclass(frozen=True, slots=True)
class DoNotDisturbChanged(PhoneCommand):
    on: bool


@dataclass(frozen=True, slots=True)
class StateChanged(PhoneCommand):
    """Reported once per change, for the log and the console."""

    old: str
    new: str
