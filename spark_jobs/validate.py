"""spark-submit entry point for the `validate` stage: `spark-submit spark_jobs/validate.py --help`."""

import sys

from lmdata.spark.job import main
from lmdata.spark.stages import get_stage

if __name__ == "__main__":
    sys.exit(main(get_stage("validate")))
