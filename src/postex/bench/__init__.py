"""Benchmarks: the real code path next to a plain baseline measured in the same run."""
