"""spark-submit entry point for the `dedup` stage: `spark-submit spark_jobs/dedup.py --help`."""

import sys

from lmdata.spark.job import main
from lmdata.spark.stages import get_stage

if __name__ == "__main__":
    sys.exit(main(get_stage("dedup")))
