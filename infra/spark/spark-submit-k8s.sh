#!/usr/bin/env bash
# One lmdata stage with plain spark-submit against the Kubernetes API (no operator), cluster
# deploy mode: the driver and executors are pods of the lmdata Spark image; the job file is
# already in the image (local://). Credentials reach the pods from the Kubernetes secret
# lmdata-lake-credentials (secretKeyRef), never from this command line.
#
#   infra/spark/spark-submit-k8s.sh ingest-cc --crawl CC-MAIN-2024-22 --source s3://commoncrawl --format wet --slice 0/100
#
# Environment: K8S_API (default https://kubernetes.default.svc), SPARK_NAMESPACE (lmdata-spark),
# LMDATA_SPARK_IMAGE, LMDATA_LAKE (s3://...), EXECUTORS, EXECUTOR_CORES, EXECUTOR_MEMORY,
# LMDATA_S3_ENDPOINT (S3-compatible stores only). From Airflow, the same settings are the
# `lmdata_spark` connection (host k8s://..., extra namespace / deploy-mode) + LMDATA_SPARK_CONF.
set -euo pipefail

stage="${1:?usage: $0 STAGE [stage arguments...]}"
shift
job="${stage//-/_}"
secret=lmdata-lake-credentials
conf=(
  --conf "spark.kubernetes.namespace=${SPARK_NAMESPACE:-lmdata-spark}"
  --conf "spark.kubernetes.container.image=${LMDATA_SPARK_IMAGE:-registry.example.com/lmdata-spark:0.1.0}"
  --conf "spark.kubernetes.authenticate.driver.serviceAccountName=spark"
  --conf "spark.executor.instances=${EXECUTORS:-4}"
  --conf "spark.executor.cores=${EXECUTOR_CORES:-4}"
  --conf "spark.executor.memory=${EXECUTOR_MEMORY:-8g}"
  --conf "spark.pyspark.python=/usr/local/bin/python"
  --conf "spark.pyspark.driver.python=/usr/local/bin/python"
  --conf "spark.driver.extraClassPath=/opt/lmdata/jars/*"    # infra/jars.lock, in the image
  --conf "spark.executor.extraClassPath=/opt/lmdata/jars/*"
  --conf "spark.kubernetes.driverEnv.LMDATA_LAKE=${LMDATA_LAKE:?set LMDATA_LAKE=s3://bucket/prefix}"
)
for who in driver executor; do
  for key in AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
    conf+=(--conf "spark.kubernetes.${who}.secretKeyRef.${key}=${secret}:${key}")
  done
done
if [[ -n "${LMDATA_S3_ENDPOINT:-}" ]]; then
  conf+=(--conf "spark.hadoop.fs.s3a.endpoint=${LMDATA_S3_ENDPOINT}"
         --conf "spark.hadoop.fs.s3a.path.style.access=true"
         --conf "spark.kubernetes.driverEnv.LMDATA_S3_ENDPOINT=${LMDATA_S3_ENDPOINT}"
         --conf "spark.executorEnv.LMDATA_S3_ENDPOINT=${LMDATA_S3_ENDPOINT}")
fi

exec spark-submit \
  --master "k8s://${K8S_API:-https://kubernetes.default.svc}" \
  --deploy-mode cluster \
  --name "lmdata-${stage}" \
  "${conf[@]}" \
  "local:///opt/lmdata/spark_jobs/${job}.py" \
  --lake "${LMDATA_LAKE}" --params /opt/lmdata/params.yaml "$@"
