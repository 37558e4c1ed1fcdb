"""The Prometheus side of sipprobe: one probe's report and evidence as metrics
(probe.exporter.metrics), for the exporter's `/probe` and for `--format prometheus`."""
