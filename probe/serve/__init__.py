"""The embedded responder (`sipprobe serve`, `sipprobe demo`)."""

from probe.serve.responder import Listener, Responder, ResponderConfig, answer

__all__ = ["Listener", "Responder", "ResponderConfig", "answer"]
