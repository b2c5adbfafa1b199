"""Airflow adapters (the ONLY airflow importer besides dags/). Importing this package is cheap:
it imports no pyspark, presidio, datasketch or torch."""
