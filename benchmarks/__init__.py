"""Throughput and memory benchmarks of tap-enectiva and target-enectiva against baselines.

Run with ``make bench`` or ``python -m benchmarks.run [--quick] [--only tap,target,...]``.
Not part of the test suite: figures are ratios against baselines measured in the same run.
"""
