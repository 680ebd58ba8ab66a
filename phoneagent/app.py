"""The running phone: one asyncio loop wiring config, hardware, the phone, SIP and console.

Wiring only (DESIGN.md principle 9): network input is fed to ``sip.ua.UserAgent``
with ``loop.time()``, its send actions go to ``aio.sip_transport.SipTransports``,
its single timer deadline is armed with one ``loop.call_at``.  What the user does
on the hardware (``hal``) and what the stack reports about calls
(``call_control``) are fed to the phone's state machine (``phone.machine``), whose
commands go back to the calls, the ringer, the LEDs and the earpiece; everything
also becomes console ``event`` lines and log lines.  No decisions are made here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from phoneagent.aio.resolver import locate
from phoneagent.aio.sip_transport import (
    SipTransports,
    make_client_tls_context,
    make_server_tls_context,
)
from phoneagent.audio_files import WavRecorder, source_for
from phoneagent.call_control import CallAudio, CallControl
from phoneagent.config import Config
from phoneagent.console import CommandRegistry, CommandResult, ConsoleProtocol, format_event
from phoneagent.earpiece import Earpiece
from phoneagent.hal.factory import Hardware, HardwareSettings, build_hardware
from phoneagent.hal.interfaces import KEYS, HardwareEvent, HookChanged, HookFlashed, KeyPressed
from phoneagent.hal.mock import MockHardware
from phoneagent.hal.serial import SerialPort
from phoneagent.history import CallHistory
from phoneagent.media.tones import tone
from phoneagent.phone import events as phone_events
from phoneagent.phone.dialplan import DialPlan
from phoneagent.phone.machine import PhoneMachine
from phoneagent.phone.settings import PhoneSettings
from phoneagent.sip.auth import Credentials
from phoneagent.sip.errors import RemoteProtocolError
from phoneagent.sip.transaction import TimerSettings
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.ua import (
    MessagesWaiting,
    RegistrationChanged,
    TargetsNeeded,
    UserAgent,
    UserAgentSettings,
)

log = logging.getLogger(__name__)
sip_trace = logging.getLogger("phoneagent.sip.trace")

STOP_TIMEOUT = 5.0  # seconds to wait for the un-REGISTER on shutdown
RELOCATE_DELAY = 5.0  # seconds between DNS lookups when every target failed


class HardwareUnavailableError(Exception):
    """The configured hardware cannot be opened (its message is one line for the user)."""


def instance_id_for(config: Config) -> str:
    """A stable RFC 5626 instance id: derived from the account and the machine's name."""
    return (
        f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{config.account.uri}@{socket.gethostname()}')}"
    )


class Phone:
    """One account's phone: hardware, state machine, SIP user agent, transports, console."""

    def __init__(self, config: Config, *, alsa_audio: bool = False) -> None:
        self.config = config
        self.alsa_audio = alsa_audio  # the simulator: mocked keys and hook, a real sound card
        self.loop = asyncio.get_running_loop()
        self.transports: SipTransports | None = None
        self.ua: UserAgent | None = None
        self.console: ConsoleProtocol | None = None
        self.serial: SerialPort | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._machine_timer: asyncio.TimerHandle | None = None
        self._drain_scheduled = False
        self._relocating = False
        self.registration = "unregistered" if config.account.register else "off"
        self.calls: CallControl | None = None
        self.hardware: Hardware | None = None
        self.earpiece: Earpiece | None = None
        self.recorder: WavRecorder | None = None
        self.machine = PhoneMachine(phone_settings(config), self.loop.time())
        #: Extra listeners of console events (the demo and the simulator print them).
        self.observers: list[Callable[[str, dict[str, object]], None]] = []

    # -- start and stop ----------------------------------------------------------------------

    async def start(self) -> None:
        config = self.config
        account = config.account
        transport = Transport(account.transport)
        client_tls = None
        server_tls = None
        if transport is Transport.TLS:
            ca_file = str(config.tls.ca_file) if config.tls.ca_file else None
            client_tls = make_client_tls_context(ca_file, verify=config.tls.verify_server)
            if config.tls.certificate and config.tls.private_key:
                server_tls = make_server_tls_context(
                    str(config.tls.certificate), str(config.tls.private_key)
                )
        self.transports = SipTransports(
            self, tls_client_context=client_tls, tls_server_context=server_tls
        )
        listen = config.network.listen
        target_uri = account.outbound_proxy or account.registrar
        targets = await self._locate() if account.register else []
        if transport is Transport.TLS and server_tls is None:
            local = Peer(transport, listen.host, listen.port or 5061)
        else:
            local = await self.transports.listen(transport, listen.host, listen.port)
        if local.host in ("0.0.0.0", "::"):
            local = Peer(local.transport, _source_address_towards(targets), local.port)
        settings = UserAgentSettings(
            aor=account.uri,
            registrar=account.registrar,
            transport=transport,
            credentials=(Credentials(account.username, account.password),),
            instance_id=instance_id_for(config),
            expires=account.expires,
            keepalive_interval=float(account.keepalive_interval),
            timers=TimerSettings(t1=config.timers.t1, t2=config.timers.t2, t4=config.timers.t4),
            tls_server_name=target_uri.host,
        )
        self.ua = UserAgent(settings, local)
        self._start_hardware()
        assert self.earpiece is not None and self.hardware is not None
        audio = CallAudio(self._microphone, self.earpiece.call_audio, self._capture_backlog)
        self.calls = CallControl(
            config,
            self.ua,
            self.feed,
            self.event,
            self._pump,
            audio=audio,
            new_line=self.machine.new_line,
            history=CallHistory(config.history.path),
        )
        await self._start_console()
        log.info("phoneagent: %s over %s from %s", account.uri, transport.value, local)
        now = self.loop.time()
        if account.register:
            self.ua.set_targets(targets, now)
            self.ua.start(now)
        self._pump()
        self._drain_machine()

    def _start_hardware(self) -> None:
        config = self.config
        sink = None
        if config.hardware.backend == "mock" and config.media.record:
            self.recorder = WavRecorder(Path(config.media.record))
            sink = self.recorder.write
        settings = HardwareSettings(
            backend=config.hardware.backend,
            profile=config.hardware.profile,
            flash_min_ms=config.hardware.flash_min_ms,
            flash_max_ms=config.hardware.flash_max_ms,
            capture_device=config.audio.capture_device,
            playback_device=config.audio.playback_device,
            ring_device=config.audio.ring_device or "",
            period_ms=config.audio.period_ms,
            ring_country=config.phone.tone_country,
        )
        try:
            self._build_hardware(settings, sink)
        except Exception as error:
            # gpiozero without GPIO, a missing sound card …: one line that says what to do.
            raise HardwareUnavailableError(
                f"{config.hardware.backend} hardware unavailable: {error} "
                '(without a Pi, set [hardware] backend = "mock")'
            ) from error
        assert self.hardware is not None
        self.earpiece = Earpiece(self.loop, self.hardware.audio.write, config.phone.tone_country)

    def _build_hardware(
        self, settings: HardwareSettings, sink: Callable[[bytes], None] | None
    ) -> None:
        config = self.config
        self.hardware = build_hardware(
            settings,
            self.loop,
            self._hardware_event,
            call_soon_threadsafe=self.loop.call_soon_threadsafe,
            mock_audio_source=source_for(config.media.play),
            mock_audio_sink=sink,
        )
        if self.alsa_audio and config.hardware.backend == "mock":
            from phoneagent.hal.alsa import AlsaAudio  # noqa: PLC0415 -- needs pyalsaaudio

            self.hardware.audio = AlsaAudio(
                config.audio.capture_device,
                config.audio.playback_device,
                period_ms=config.audio.period_ms,
            )
        self.hardware.audio.start(8000)  # G.711's rate; wideband codecs will restart it

    async def _locate(self) -> list[Peer]:
        account = self.config.account
        nameservers = [(server.host, server.port) for server in self.config.network.dns_servers]
        target_list = await locate(
            account.outbound_proxy or account.registrar,
            {Transport(account.transport)},
            Transport(account.transport),
            nameservers or None,
        )
        if not list(target_list):
            log.warning("no address for %s: %s", account.registrar, "; ".join(target_list.problems))
        return list(target_list)

    async def stop(self) -> None:
        """Hang up, unregister (bounded by STOP_TIMEOUT), then release everything."""
        if self.calls is not None:
            self.calls.close()
        if self.ua is not None:
            self.ua.stop(self.loop.time())
            self._pump()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT):
                    while not self.ua.is_stopped:
                        await asyncio.sleep(0.05)
        for timer in (self._timer, self._machine_timer):
            if timer is not None:
                timer.cancel()
        if self.earpiece is not None:
            self.earpiece.close()
        if self.hardware is not None:
            self.hardware.ringer.set(False)
            self.hardware.close()
        if self.recorder is not None:
            self.recorder.close()
        if self.serial is not None:
            self.serial.close()
        if self.transports is not None:
            await self.transports.close()

    # -- the phone's state machine ------------------------------------------------------------

    def feed(self, event: phone_events.PhoneInput) -> None:
        """An input for the state machine; its commands run soon, outside the caller's stack
        (a call event handled inside the SIP pump must not re-enter the pump)."""
        self.machine.handle(event, self.loop.time())
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self.loop.call_soon(self._drain_machine)

    def _drain_machine(self) -> None:
        self._drain_scheduled = False
        while (command := self.machine.next_command()) is not None:
            self._execute(command)
        if self._machine_timer is not None:
            self._machine_timer.cancel()
            self._machine_timer = None
        deadline = self.machine.get_timer()
        if deadline is not None:
            self._machine_timer = self.loop.call_at(deadline, self._machine_due)

    def _machine_due(self) -> None:
        self._machine_timer = None
        self.machine.handle_timer(self.loop.time())
        self._drain_machine()

    def _execute(self, command: phone_events.PhoneCommand) -> None:
        hardware, earpiece = self.hardware, self.earpiece
        assert hardware is not None and earpiece is not None and self.calls is not None
        if isinstance(command, phone_events.PlayTone):
            earpiece.play_tone(command.name)
            self.event("tone", name=command.name or "off")
        elif isinstance(command, phone_events.SetRinger):
            hardware.ringer.set(command.on)
            self.event("ring", state="on" if command.on else "off")
        elif isinstance(command, phone_events.SetIndicator):
            hardware.indicators.set(command.name, command.on)
            self.event("led", name=command.name, state="on" if command.on else "off")
        elif isinstance(command, phone_events.ConnectAudio):
            earpiece.connect(command.line)
        elif isinstance(command, phone_events.StateChanged):
            self.event("state", old=command.old, new=command.new)
        elif isinstance(command, phone_events.DoNotDisturbChanged):
            log.info("do not disturb %s", "on" if command.on else "off")
            self.event("dnd", state="on" if command.on else "off")
        else:
            self.calls.execute(command)

    def _microphone(self, line: int, samples: int) -> bytes:
        """The handset carries one call both ways: the one the earpiece plays.  A held or
        waiting call gets silence, and does not take the microphone's samples from it."""
        assert self.hardware is not None and self.earpiece is not None
        if self.earpiece.line == line:
            return self.hardware.audio.read(samples)
        return b"\0\0" * samples

    def _capture_backlog(self, line: int) -> int | None:
        assert self.hardware is not None and self.earpiece is not None
        return self.hardware.audio.capture_backlog() if self.earpiece.line == line else None

    def _hardware_event(self, event: HardwareEvent) -> None:
        if isinstance(event, KeyPressed):
            self.feed(phone_events.KeyPress(event.key))
        elif isinstance(event, HookFlashed):
            self.event("hook", state="flash")
            self.feed(phone_events.HookFlash())
        elif isinstance(event, HookChanged):
            self.event("hook", state="off" if event.off_hook else "on")
            self.feed(phone_events.HookOff() if event.off_hook else phone_events.HookOn())

    # -- the console ---------------------------------------------------------------------------

    async def _start_console(self) -> None:
        port = self.config.console.port
        if not port:
            return
        self.console = ConsoleProtocol(self.console_commands())
        self.serial = SerialPort(port, self.config.console.baudrate, self._console_input)
        await self.serial.open()

    def console_commands(self) -> CommandRegistry:
        commands = CommandRegistry()
        commands.register("status", self._status, "", "registration, address and call state")
        commands.register("dial", self._dial, "TARGET", "call digits or a sip:/sips:/tel: URI")
        commands.register("answer", self._answer, "", "answer the ringing call")
        commands.register("hangup", self._hangup, "", "end or cancel the call")
        commands.register("dtmf", self._dtmf, "DIGITS", "send DTMF (RFC 4733) in the call")
        commands.register("dnd", self._dnd, "on|off", "do not disturb: refuse incoming calls")
        if self.config.hardware.backend == "mock":
            commands.register("hook", self._hook, "off|on", "lift or put down the handset")
            commands.register("flash", self._flash, "", "flash the hook (hold, call waiting)")
            commands.register("key", self._key, "KEY", "press one key: 0-9 * # A-D")
            commands.register("keys", self._keys, "KEYS", "press keys one after another")
        return commands

    def _console_input(self, data: bytes) -> None:
        if self.console is None or self.serial is None:
            return
        for answer in self.console.receive_data(data):
            self.serial.write(answer)

    def _status(self, args: list[str]) -> CommandResult:
        address = str(self.ua.local.host_port) if self.ua is not None else ""
        call = self.calls.state if self.calls is not None else "idle"
        return CommandResult.ok(
            registration=self.registration,
            address=address,
            call=call,
            phone=self.machine.state.value,
        )

    def _dial(self, args: list[str]) -> CommandResult:
        if self.calls is None:
            return CommandResult.fail("not-ready")
        if self.calls.lines:
            return CommandResult.fail("busy", "a call is in progress")
        try:
            target = self.calls.target_of(args[0])
        except RemoteProtocolError as error:
            return CommandResult.fail("bad-target", error.reason)
        self.feed(phone_events.HandsFreeDial(args[0]))
        return CommandResult.ok(target=str(target))

    def _answer(self, args: list[str]) -> CommandResult:
        if self.calls is None or not any(
            active.direction == "incoming" and active.media is None
            for active in self.calls.lines.values()
        ):
            return CommandResult.fail("no-incoming-call")
        self.feed(phone_events.HandsFreeAnswer())
        return CommandResult.ok()

    def _hangup(self, args: list[str]) -> CommandResult:
        if self.calls is None or not self.calls.lines:
            return CommandResult.fail("no-call")
        self.feed(phone_events.HandsFreeHangUp())
        return CommandResult.ok()

    def _dtmf(self, args: list[str]) -> CommandResult:
        if self.calls is None:
            return CommandResult.fail("no-call")
        problem = self.calls.send_dtmf(args[0])
        if problem is not None:
            reason, _, detail = problem.partition(" ")
            return CommandResult.fail(reason, detail or None)
        return CommandResult.ok(digits=args[0])

    def _dnd(self, args: list[str]) -> CommandResult:
        if args[0] not in ("on", "off"):
            return CommandResult.fail("bad-argument", "on or off")
        self.feed(phone_events.SetDoNotDisturb(args[0] == "on"))
        return CommandResult.ok(dnd=args[0])

    def _mock(self) -> MockHardware:
        assert isinstance(self.hardware, MockHardware)
        return self.hardware

    def _hook(self, args: list[str]) -> CommandResult:
        if args[0] == "off":
            self._mock().lift_handset()
        elif args[0] == "on":
            self._mock().hang_up()
        else:
            return CommandResult.fail("bad-argument", "off or on")
        return CommandResult.ok(hook=args[0])

    def _flash(self, args: list[str]) -> CommandResult:
        self._mock().flash()
        return CommandResult.ok()

    def _key(self, args: list[str]) -> CommandResult:
        return self._press(args[0], "key")

    def _keys(self, args: list[str]) -> CommandResult:
        return self._press(args[0], "keys")

    def _press(self, keys: str, field: str) -> CommandResult:
        if not keys or any(key not in KEYS for key in keys):
            return CommandResult.fail("bad-key", "0-9, *, #, A-D")
        try:
            self._mock().dial(keys)
        except ValueError as error:  # a key this board's keypad does not have (A-D on 4x3)
            return CommandResult.fail("bad-key", str(error))
        return CommandResult.ok(**{field: keys})

    def event(self, name: str, /, **fields: object) -> None:
        """A console ``event`` line (and the observers)."""
        if self.serial is not None:
            self.serial.write(format_event(name, **fields))
        for observer in self.observers:
            observer(name, fields)

    # -- SipTransportListener: network input ---------------------------------------------------

    def datagram_received(self, data: bytes, source: Peer) -> None:
        if self.config.log.sip_trace:
            sip_trace.info("received from %s:\n%s", source, data.decode("utf-8", "replace"))
        if self.ua is not None:
            self.ua.receive_datagram(data, source, self.loop.time())
            self._pump()

    def stun_received(self, data: bytes, source: Peer) -> None:
        if self.ua is not None:
            self.ua.receive_stun(data, source, self.loop.time())
            self._pump()

    def keepalive_pong(self, source: Peer) -> None:
        if self.ua is not None:
            self.ua.keepalive_pong(source, self.loop.time())
            self._pump()

    def connection_lost(self, peer: Peer, error: Exception | None) -> None:
        if self.ua is not None:
            log.info("connection to %s closed%s", peer, f": {error}" if error else "")
            self.ua.connection_lost(peer, self.loop.time())
            self._pump()

    def transport_error(self, peer: Peer, error: Exception) -> None:
        if self.ua is not None:
            log.warning("sending to %s failed: %s", peer, error)
            self.ua.transport_error(peer, self.loop.time())
            self._pump()

    # -- output and the timer -----------------------------------------------------------------

    def _pump(self) -> None:
        """Flush what the core wants sent and reported, then re-arm its one timer."""
        ua = self.ua
        if ua is None or self.transports is None:
            return
        if self.calls is not None:
            # Handling a call event can make more (an answer's ACK, a hangup's BYE): until
            # none is left, bounded so that a bug cannot spin the loop.
            for _ in range(16):
                call_events = ua.call_events()
                if not call_events:
                    break
                for call_event in call_events:
                    self.calls.handle_event(call_event)
                ua.after_call_command(self.loop.time())
        for action in ua.actions():
            if self.config.log.sip_trace and action.data.strip(b"\r\n"):
                sip_trace.info(
                    "sending to %s:\n%s", action.destination, action.data.decode("utf-8", "replace")
                )
            self.transports.send(action.data, action.destination, action.server_name)
        while (event := ua.next_event()) is not None:
            self._dispatch(event)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = ua.get_timer()
        if deadline is not None:
            self._timer = self.loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.ua is not None:
            self.ua.handle_timer(self.loop.time())
            self._pump()

    def _dispatch(self, event: object) -> None:
        if isinstance(event, RegistrationChanged):
            self.registration = event.state
            self.feed(phone_events.RegistrationChanged(event.state == "registered"))
            if event.state == "registered":
                log.info("registered for %d s", event.expires or 0)
                self.event("registered", expires=event.expires)
            elif event.state == "unregistered":
                log.info("unregistered")
                self.event("unregistered")
            else:
                log.warning(
                    "registration failed: %s %s%s",
                    event.code,
                    event.reason,
                    f" (retry in {event.retry_in:.1f} s)" if event.retry_in is not None else "",
                )
                self.event("registration-failed", code=event.code, reason=event.reason)
        elif isinstance(event, MessagesWaiting):
            summary = event.summary
            log.info(
                "voicemail: %s (%d new, %d old)",
                "messages waiting" if summary.waiting else "none waiting",
                summary.new_voice,
                summary.old_voice,
            )
            self.event(
                "mwi",
                waiting="yes" if summary.waiting else "no",
                new=summary.new_voice,
                old=summary.old_voice,
            )
            self.feed(phone_events.MessagesWaiting(summary.waiting))
        elif isinstance(event, TargetsNeeded) and not self._relocating:
            self._relocating = True
            self.loop.create_task(self._relocate())

    async def _relocate(self) -> None:
        try:
            await asyncio.sleep(RELOCATE_DELAY)
            targets = await self._locate()
            if self.ua is not None and targets:
                self.ua.set_targets(targets, self.loop.time())
                self._pump()
        finally:
            self._relocating = False


def phone_settings(config: Config) -> PhoneSettings:
    """The state machine's settings from ``[phone]`` (the ring cadence from the tone plan)."""
    phone = config.phone
    ring = tone(phone.tone_country, "ring")
    cadence = tuple(
        (segment.duration_ms / 1000, bool(segment.frequencies))
        for segment in ring.segments
        if segment.duration_ms is not None
    )
    return PhoneSettings(
        dial_plan=DialPlan.parse(list(phone.dial_plan)),
        speed_dials=dict(phone.speed_dials),
        inter_digit_timeout=phone.inter_digit_timeout,
        tone_country=phone.tone_country,
        ring_cadence=cadence,
        auto_answer=phone.auto_answer,
        auto_answer_delay=phone.auto_answer_delay,
        do_not_disturb=phone.do_not_disturb,
        call_waiting=phone.call_waiting,
    )


def _source_address_towards(targets: list[Peer]) -> str:
    """The local address the kernel would use to reach the first target (no packet is sent)."""
    for target in targets:
        family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
        with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect((target.host, target.port))
            return str(probe.getsockname()[0])
    return "127.0.0.1"


async def run_phone(config: Config) -> int:
    """Run until SIGTERM or SIGINT; unregister on the way out."""
    phone = Phone(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await phone.start()
        await stop.wait()
        log.info("stopping")
    except HardwareUnavailableError as error:
        log.error("%s", error)
        return 1
    finally:
        await phone.stop()
    return 0


def configure_logging(level: str, journal: bool) -> None:
    """Logs to stderr; under systemd (JOURNAL_STREAM set) with syslog priority prefixes."""
    handler = logging.StreamHandler()
    if journal:
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class _JournalFormatter(logging.Formatter):
    """Prefix each line with ``<N>`` so journald records the right priority."""

    PRIORITIES: ClassVar[dict[str, int]] = {
        "DEBUG": 7,
        "INFO": 6,
        "WARNING": 4,
        "ERROR": 3,
        "CRITICAL": 2,
    }

    def format(self, record: logging.LogRecord) -> str:
        priority = self.PRIORITIES.get(record.levelname, 6)
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


__all__ = ["HardwareUnavailableError", "Phone", "configure_logging", "run_phone"]
