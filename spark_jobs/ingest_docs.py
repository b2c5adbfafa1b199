"""spark-submit entry point for the `ingest-docs` stage: `spark-submit spark_jobs/ingest_docs.py --help`."""

import sys

from lmdata.spark.job import main
from lmdata.spark.stages import get_stage

if __name__ == "__main__":
    sys.exit(main(get_stage("ingest-docs")))
