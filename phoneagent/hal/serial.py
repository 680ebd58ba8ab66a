"""The maintenance console's serial device (pyserial): carries bytes, knows no protocol.

A UART or pty has a file descriptor: its reads are driven by ``loop.add_reader``
on the event loop, with no thread.  A pyserial URL without one (``loop://``,
``socket://``) is read by one daemon thread that hands data to the loop through
``call_soon_threadsafe`` only (DESIGN.md principle 7).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

import serial

log = logging.getLogger(__name__)

READ_SIZE = 4096


class SerialPort:
    """Open ``port`` (any pyserial port name or URL) and deliver what arrives to ``on_data``."""

    def __init__(self, port: str, baudrate: int, on_data: Callable[[bytes], None]) -> None:
        self.port = port
        self.baudrate = baudrate
        self.on_data = on_data
        self._serial: serial.SerialBase | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._fd: int | None = None

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        device = serial.serial_for_url(
            self.port, baudrate=self.baudrate, timeout=0, do_not_open=True
        )
        device.open()
        self._serial = device
        try:
            self._fd = device.fileno()
        except (AttributeError, NotImplementedError, OSError):
            self._fd = None
        if self._fd is not None:
            self._loop.add_reader(self._fd, self._readable)
        else:
            device.timeout = 0.2
            self._thread = threading.Thread(target=self._read_thread, name="console", daemon=True)
            self._thread.start()

    def _readable(self) -> None:
        assert self._serial is not None
        try:
            data = self._serial.read(READ_SIZE)
        except serial.SerialException as error:
            log.warning("console %s: %s", self.port, error)
            return
        if data:
            self.on_data(data)

    def _read_thread(self) -> None:
        device = self._serial
        loop = self._loop
        assert device is not None and loop is not None
        while not self._closing.is_set():
            try:
                data = device.read(READ_SIZE)
            except serial.SerialException as error:
                log.warning("console %s: %s", self.port, error)
                return
            if data:
                loop.call_soon_threadsafe(self.on_data, data)

    def write(self, data: bytes) -> None:
        if self._serial is None:
            return
        try:
            self._serial.write(data)
        except serial.SerialException as error:
            log.warning("console %s: %s", self.port, error)

    def close(self) -> None:
        self._closing.set()
        if self._fd is not None and self._loop is not None:
            self._loop.remove_reader(self._fd)
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self._serial is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._serial.close()
        self._serial = None
