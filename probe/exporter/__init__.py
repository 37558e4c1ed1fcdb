"""The Prometheus exporter: `sipprobe exporter` answers `/probe?target=URI&module=NAME` with
one probe's judgement as metrics (blackbox_exporter's names where the meaning is the same),
and `/metrics` with its own."""
