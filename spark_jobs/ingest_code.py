"""spark-submit entry point for the `ingest-code` stage: `spark-submit spark_jobs/ingest_code.py --help`."""

import sys

from lmdata.spark.job import main
from lmdata.spark.stages import get_stage

if __name__ == "__main__":
    sys.exit(main(get_stage("ingest-code")))
