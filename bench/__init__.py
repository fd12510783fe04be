"""Benchmarks: how close digest gets to this machine's limits.

Every figure is measured next to a reference run in the same process tree, at the same time, so a
noisy shared machine shifts both sides alike and the ratio stays meaningful. See bench/README.md.
"""
