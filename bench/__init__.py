"""The benchmark harness of sipprobe (`make bench`): real servers, interleaved contenders,
BENCHMARKS.md written from the measurements. See bench/README.md."""
