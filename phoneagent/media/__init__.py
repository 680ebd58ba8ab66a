"""Media: RTP, RTCP, SRTP, jitter buffer, codecs, DTMF and tones (sans-IO)."""
