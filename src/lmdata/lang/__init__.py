"""Language-dependent data and logic: per-language recipes (FineWeb-2), word tokenizers and
segmenters. Pure (no pyspark / airflow); heavy segmenters load lazily once per process."""
