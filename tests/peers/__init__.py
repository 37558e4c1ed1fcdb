"""Real servers from Debian's packages, started on loopback by the test fixtures."""
