"""Benchmarks against a running homeserver (Ganglion or any other): see bench/README.md."""
