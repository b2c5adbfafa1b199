"""spark-submit entry point for `lake-maintenance`: `spark-submit spark_jobs/lake_maintenance.py --help`."""

import sys

from lmdata.spark.job import main
from lmdata.spark.maintenance import LakeMaintenanceStage

if __name__ == "__main__":
    sys.exit(main(LakeMaintenanceStage()))
