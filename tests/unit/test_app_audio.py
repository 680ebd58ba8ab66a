"""The handset carries one call both ways: the call the earpiece plays gets the microphone
(and the sound card's clock); a held or waiting call gets silence and takes nothing."""

from __future__ import annotations

import asyncio

from phoneagent.app import Phone
from phoneagent.config import parse_config
from phoneagent.earpiece import Earpiece
from phoneagent.hal.factory import HardwareSettings, build_hardware


def test_only_the_connected_line_hears_the_microphone() -> None:
    async def main() -> None:
        config = parse_config('[account]\nuri = "sip:a@127.0.0.1"\npassword = "x"\n')
        phone = Phone(config)
        loop = asyncio.get_running_loop()
        phone.hardware = build_hardware(
            HardwareSettings(),
            loop,
            lambda event: None,
            mock_audio_source=lambda n: b"\x07\x00" * n,
        )
        phone.hardware.audio.start(8000)
        phone.earpiece = Earpiece(loop, phone.hardware.audio.write, "us")
        phone.earpiece.connect(2)
        assert phone._microphone(2, 3) == b"\x07\x00" * 3
        assert phone._microphone(1, 3) == b"\0\0" * 3  # held: silence
        assert phone._capture_backlog(1) is None  # and no card clock of its own
        phone.earpiece.connect(None)  # on hold, nobody on the handset
        assert phone._microphone(2, 2) == b"\0\0" * 2
        phone.hardware.close()

    asyncio.run(main())
