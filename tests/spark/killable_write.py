"""A Spark job that writes slowly into a Delta table (for the SIGKILL test).

usage: killable_write.py TABLE APP_ID N_ROWS MARKER_DIR [SLOW_SECONDS [ID_OFFSET]]
Each task touches MARKER_DIR/<partition> once it starts producing rows, then sleeps, so the test
can kill the job while executors are writing Parquet into the table location.
"""

import os
import sys
import time

from lmdata.config import SparkConfig
from lmdata.spark.io import write_delta
from lmdata.spark.session import get_spark

table, app_id, n, marker = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
slow = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0
offset = int(sys.argv[6]) if len(sys.argv) > 6 else 0
# local[2] unless LMDATA_SPARK_MASTER names a cluster (tests/e2e/test_cluster_s3.py)
spark = get_spark(SparkConfig(master="local[2]", shuffle_partitions=2, log_level="ERROR"))


def produce(it):
    from pyspark import TaskContext

    pid = TaskContext.get().partitionId()
    for i, pdf in enumerate(it):
        if slow and i == 0:
            open(os.path.join(marker, f"task-{pid}"), "w").close()
        yield pdf.assign(
            text=pdf["id"].map(lambda v: f"row {v}"),
            p=pdf["id"].map(lambda v: "a" if v % 2 else "b"),
        )
        if slow:
            time.sleep(slow)


df = spark.range(offset, offset + n, numPartitions=4).mapInPandas(produce, "id long, text string, p string")
spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "100")
res = write_delta(df, table, partition_by=["p"], app_id=app_id)
print("COMMITTED", res.version, res.rows, res.committed, flush=True)
