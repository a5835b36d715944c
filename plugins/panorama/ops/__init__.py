"""Operating the DAGs: notifications, time limits, delivery timing and the data assets."""
