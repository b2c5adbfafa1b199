"""Vectorized (Arrow-batched) adapters from pure lmdata functions to Spark columns."""

# No `from __future__ import annotations` here: pandas_udf reads the real type hints.

from lmdata.config import ExactDedupConfig


def text_key_udf(cfg: ExactDedupConfig):
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    from lmdata.dedup.exact import text_key

    @pandas_udf("string")
    def _text_key(texts: pd.Series) -> pd.Series:
        return pd.Series([text_key(t, cfg) for t in texts], dtype=object)

    return _text_key


def url_key_udf():
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    from lmdata.dedup.exact import url_key

    @pandas_udf("string")
    def _url_key(urls: pd.Series) -> pd.Series:
        return pd.Series([url_key(u) for u in urls], dtype=object)

    return _url_key
