"""TLS: the capture context and adapter, trust anchors, certificate judgement, lab PKI.

Submodules are imported directly (`probe.tls.verify`, `probe.tls.pki`...) so that a
command that needs no certificate work does not pay for importing cryptography.
"""
