import pytest

pytestmark = pytest.mark.spark


@pytest.fixture(scope="session")
def spark():
    from lmdata.config import SparkConfig
    from lmdata.spark.session import get_spark

    s = get_spark(
        SparkConfig(master="local[2]", shuffle_partitions=4, ui=False, log_level="ERROR"),
        app_name="lmdata-tests",
    )
    yield s
    s.stop()
