"""spark-submit entry point for the `mix` stage: `spark-submit spark_jobs/mix.py --mixture sample`."""

import sys

from lmdata.spark.job import main
from lmdata.spark.stages.mix import MixStage

if __name__ == "__main__":
    sys.exit(main(MixStage()))
