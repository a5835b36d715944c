"""The publication gate: dbt data tests and the Great Expectations checkpoint over a candidate."""
