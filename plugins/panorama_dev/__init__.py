"""Development tools, never imported by production code: the synthetic generator, the demo
stand-ins (exchange platform, local Airflow), the benchmarks and the quality scorers.
"""
