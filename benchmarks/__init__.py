"""Benchmarks: ``make bench`` (``python -m benchmarks``) measures raw broker and database rates
and the first flow on this machine, in one run, and prints the flow's figures as ratios."""
