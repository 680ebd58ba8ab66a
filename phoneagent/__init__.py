"""phoneagent: a SIP desk phone for the Raspberry Pi, with its own SIP/SRTP stack."""

__version__ = "0.1.0"
