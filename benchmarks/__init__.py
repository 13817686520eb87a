"""Benchmarks for PointLabel (``pointlabel bench``, ``make bench``).

Every figure is measured in one run and, where it is a speed, reported as a
ratio against a peer measured in the same run, because machines are noisy.
Benchmarks never run in the test suite except for a tiny smoke test.
"""
