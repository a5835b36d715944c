"""Benchmarks: extraction per format, the pipeline stage by stage, entity resolution."""
