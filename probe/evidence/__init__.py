"""Evidence: what a run saw, as plain frozen data (model: one probe; run: a whole run),
and its file format (file, codec), with secrets redacted (redact) and the trust anchors
the run used recorded (trust)."""
