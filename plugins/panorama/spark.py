"""The Spark session of the ``spark`` engine (``PANORAMA_ENGINE=spark``).

One session per process, made on first use: ``PANORAMA_SPARK_MASTER`` (``local[2]`` on one
machine; ``spark://host:7077`` or ``k8s://...`` on a cluster), with the similarity functions
Splink ships as a jar (``jaro_winkler``) on its class path, ``PANORAMA_SPARK_DRIVER_MEMORY`` of
heap, UTC session time and no web UI.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from panorama.settings import Settings

_LOCK = threading.Lock()
# Shuffle partitions on one machine; a cluster sets spark.sql.shuffle.partitions itself.
LOCAL_SHUFFLE_PARTITIONS = 4


def session(settings: Settings) -> Any:
    """The process's SparkSession for ``settings.spark_master`` (made once)."""
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    with _LOCK:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        builder = (
            SparkSession.builder.master(settings.spark_master)
            .appName("credit-panorama")
            .config("spark.jars", similarity_jar_location())
            .config("spark.ui.enabled", "false")
            .config("spark.driver.memory", settings.spark_driver_memory)
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            # Python workers run this interpreter (its packages), not whatever python3 is on PATH
            .config("spark.pyspark.python", sys.executable)
            .config("spark.pyspark.driver.python", sys.executable)
            .config("spark.sql.warehouse.dir", str(settings.build_dir / "spark-warehouse"))
        )
        if settings.spark_master.startswith("local"):
            # a local session talks to itself over loopback, whatever the host name resolves to
            builder = (
                builder.config("spark.sql.shuffle.partitions", LOCAL_SHUFFLE_PARTITIONS)
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
            )
        spark = builder.getOrCreate()
        spark.sparkContext.setLogLevel("ERROR")
        # where Splink breaks long lineages (checkpointed frames)
        spark.sparkContext.setCheckpointDir(str(settings.build_dir / "spark-checkpoints"))
        return spark
