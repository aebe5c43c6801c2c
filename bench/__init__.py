"""Benchmarks (`make bench`): the system measured against same-run baselines on the same machine.

Speed and memory are measured here, never as timing asserts in tests. See bench/README.md."""
