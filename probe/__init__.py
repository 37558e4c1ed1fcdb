"""sipprobe: verify SIP trunks end to end over TLS."""

__version__ = "0.1.0"
