"""The asyncio adapters: the only place that owns sockets, timers and the event loop.

Adapters stay thin (DESIGN.md principle 9): they feed bytes and ``loop.time()``
into the sans-IO cores and flush what the cores want sent.
"""

from phoneagent.aio.sip_transport import (
    SipTransportListener,
    SipTransports,
    make_client_tls_context,
    make_server_tls_context,
)

__all__ = [
    "SipTransportListener",
    "SipTransports",
    "make_client_tls_context",
    "make_server_tls_context",
]
