"""spark-submit entry point for the `dedup-exact` stage: `spark-submit spark_jobs/dedup_exact.py --help`."""

import sys

from lmdata.spark.job import main
from lmdata.spark.stages import get_stage

if __name__ == "__main__":
    sys.exit(main(get_stage("dedup-exact")))
