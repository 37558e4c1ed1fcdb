"""The Prometheus side of sipprobe: `sipprobe exporter` (probe.exporter.server: probes on
demand, `/probe?target=URI&module=NAME`, with modules from TOML, probe.exporter.modules),
and one probe's report and evidence as metrics (probe.exporter.metrics), for the
exporter's `/probe` and for `--format prometheus`."""
