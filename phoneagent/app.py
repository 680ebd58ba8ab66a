"""The running phone: one asyncio loop wiring config, transports, the SIP core and the console.

Wiring only (DESIGN.md principle 9): inputs are fed to ``sip.ua.UserAgent`` with
``loop.time()``, its send actions go to ``aio.sip_transport.SipTransports``, its
single timer deadline is armed with one ``loop.call_at``, and its events become
console ``event`` lines and log lines.  No protocol decisions are made here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import uuid
from typing import ClassVar

from phoneagent.aio.resolver import locate
from phoneagent.aio.sip_transport import (
    SipTransports,
    make_client_tls_context,
    make_server_tls_context,
)
from phoneagent.call_control import CallControl
from phoneagent.config import Config
from phoneagent.console import CommandRegistry, CommandResult, ConsoleProtocol, format_event
from phoneagent.hal.serial import SerialPort
from phoneagent.sip.auth import Credentials
from phoneagent.sip.transaction import TimerSettings
from phoneagent.sip.transport import Peer, Transport
from phoneagent.sip.ua import RegistrationChanged, TargetsNeeded, UserAgent, UserAgentSettings

log = logging.getLogger(__name__)
sip_trace = logging.getLogger("phoneagent.sip.trace")

STOP_TIMEOUT = 5.0  # seconds to wait for the un-REGISTER on shutdown
RELOCATE_DELAY = 5.0  # seconds between DNS lookups when every target failed


def instance_id_for(config: Config) -> str:
    """A stable RFC 5626 instance id: derived from the account and the machine's name."""
    return (
        f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{config.account.uri}@{socket.gethostname()}')}"
    )


class Phone:
    """One account's SIP user agent, its transports and its console, on the running loop."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.loop = asyncio.get_running_loop()
        self.transports: SipTransports | None = None
        self.ua: UserAgent | None = None
        self.console: ConsoleProtocol | None = None
        self.serial: SerialPort | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = asyncio.Event()
        self._relocating = False
        self.registration = "unregistered"
        self.calls: CallControl | None = None

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
        targets = await self._locate()
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
        self.calls = CallControl(config, self.ua, self._console_event, self._pump)
        await self._start_console()
        log.info("phoneagent: %s over %s from %s", account.uri, transport.value, local)
        now = self.loop.time()
        self.ua.set_targets(targets, now)
        self.ua.start(now)
        self._pump()

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
        if self._timer is not None:
            self._timer.cancel()
        if self.serial is not None:
            self.serial.close()
        if self.transports is not None:
            await self.transports.close()
        self._stopped.set()

    # -- the console ---------------------------------------------------------------------------

    async def _start_console(self) -> None:
        port = self.config.console.port
        if not port:
            return
        commands = CommandRegistry()
        commands.register("status", self._status, "", "registration, address and call state")
        assert self.calls is not None
        commands.register("dial", self.calls.dial, "TARGET", "call digits or a sip:/sips:/tel: URI")
        commands.register("answer", self.calls.answer, "", "answer the ringing call")
        commands.register("hangup", self.calls.hangup, "", "end or cancel the call")
        commands.register("dtmf", self.calls.dtmf, "DIGITS", "send DTMF (RFC 4733) in the call")
        self.console = ConsoleProtocol(commands)
        self.serial = SerialPort(port, self.config.console.baudrate, self._console_input)
        await self.serial.open()

    def _console_input(self, data: bytes) -> None:
        if self.console is None or self.serial is None:
            return
        for answer in self.console.receive_data(data):
            self.serial.write(answer)

    def _status(self, args: list[str]) -> CommandResult:
        address = str(self.ua.local.host_port) if self.ua is not None else ""
        call = self.calls.state if self.calls is not None else "idle"
        return CommandResult.ok(registration=self.registration, address=address, call=call)

    def _console_event(self, name: str, **fields: object) -> None:
        if self.serial is not None:
            self.serial.write(format_event(name, **fields))

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
            if event.state == "registered":
                log.info("registered for %d s", event.expires or 0)
                self._console_event("registered", expires=event.expires)
            elif event.state == "unregistered":
                log.info("unregistered")
                self._console_event("unregistered")
            else:
                log.warning(
                    "registration failed: %s %s%s",
                    event.code,
                    event.reason,
                    f" (retry in {event.retry_in:.1f} s)" if event.retry_in is not None else "",
                )
                self._console_event("registration-failed", code=event.code, reason=event.reason)
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


__all__ = ["Phone", "configure_logging", "run_phone"]
