"""Build: the dbt runner over one candidate DuckDB file, and probabilistic entity resolution."""
