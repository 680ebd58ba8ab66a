"""What the phone's behaviour depends on (``PhoneMachine``'s settings).

The adapter builds :class:`PhoneSettings` from the configuration's ``[phone]`` section
(the dial plan parsed by :meth:`~phoneagent.phone.dialplan.DialPlan.parse`, the ring
cadence from ``media.tones``' ``"ring"`` entry of ``tone_country``); construction
validates every value once, so the machine can rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from phoneagent.phone.dialplan import DialPlan, check_speed_dials

__all__ = ["US_RING_CADENCE", "PhoneSettings"]

#: The US ringing cadence (ANSI T1.401): 2 s on, 4 s off.
US_RING_CADENCE: tuple[tuple[float, bool], ...] = ((2.0, True), (4.0, False))


@dataclass(frozen=True, slots=True)
class PhoneSettings:
    """What the phone's behaviour depends on; validated once, on construction."""

    dial_plan: DialPlan = field(default_factory=DialPlan)
    speed_dials: dict[str, str] = field(default_factory=dict)
    inter_digit_timeout: float = 4.0
    first_digit_timeout: float = 15.0  # dial tone without a key → howler
    ended_tone_seconds: float = 30.0  # busy/congestion/unobtainable before the howler
    howler_seconds: float = 60.0  # howler before falling silent (LOCKOUT)
    tone_country: str = "us"
    ring_cadence: tuple[tuple[float, bool], ...] = US_RING_CADENCE  # (seconds, ringer on)
    auto_answer: bool = False
    auto_answer_delay: float = 0.0
    do_not_disturb: bool = False
    call_waiting: bool = True

    def __post_init__(self) -> None:
        for name in (
            "inter_digit_timeout",
            "first_digit_timeout",
            "ended_tone_seconds",
            "howler_seconds",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"phone settings: {name} must be > 0 seconds")
        if not self.auto_answer_delay >= 0:
            raise ValueError("phone settings: auto_answer_delay must be >= 0 seconds")
        if not self.ring_cadence:
            raise ValueError("phone settings: ring_cadence needs at least one step")
        for seconds, _on in self.ring_cadence:
            if not seconds > 0:
                raise ValueError("phone settings: every ring_cadence step must last > 0 s")
        check_speed_dials(self.speed_dials)
