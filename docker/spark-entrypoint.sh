#!/usr/bin/env bash
# Entrypoint of the lmdata Spark image (tini runs it as PID 1's child).
#
#   driver ARGS...    Spark on Kubernetes driver pod: spark-submit --deploy-mode client ARGS
#   executor          Spark on Kubernetes executor pod: KubernetesExecutorBackend from SPARK_* env
#   master | worker   standalone master / worker (docker compose)
#   anything else     exec'd as given (spark-submit ..., lmdata ..., bash)
#
# The driver/executor contract (argument names and SPARK_* variables) is the one Spark's
# Kubernetes scheduler backend sets on the pods it creates. LMDATA_ENTRYPOINT_DRY_RUN=1 prints
# the command instead of running it (tests/deploy checks it).
set -euo pipefail

: "${SPARK_HOME:?SPARK_HOME must be set}"
JAVA="${JAVA_HOME:+${JAVA_HOME}/bin/}java"
SPARK_CLASSPATH="${SPARK_CLASSPATH:+${SPARK_CLASSPATH}:}${SPARK_HOME}/jars/*"

# spark.executor.extraJavaOptions arrive as SPARK_JAVA_OPT_0, SPARK_JAVA_OPT_1, ...
java_opts=()
while IFS='=' read -r name value; do
  [[ "${name}" == SPARK_JAVA_OPT_* ]] && java_opts+=("${value}")
done < <(env | sort -t_ -k4 -n)

case "${1:-}" in
  driver)
    shift
    cmd=("${SPARK_HOME}/bin/spark-submit"
         --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS:?}"
         --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=${SPARK_DRIVER_BIND_ADDRESS}"
         --deploy-mode client
         "$@")
    ;;
  executor)
    shift
    cmd=("${JAVA}" "${java_opts[@]}"
         "-Xms${SPARK_EXECUTOR_MEMORY:?}" "-Xmx${SPARK_EXECUTOR_MEMORY}"
         -cp "${SPARK_CLASSPATH}"
         org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend
         --driver-url "${SPARK_DRIVER_URL:?}"
         --executor-id "${SPARK_EXECUTOR_ID:?}"
         --cores "${SPARK_EXECUTOR_CORES:?}"
         --app-id "${SPARK_APPLICATION_ID:?}"
         --hostname "${SPARK_EXECUTOR_POD_IP:?}"
         --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}"
         --podName "${SPARK_EXECUTOR_POD_NAME:?}")
    ;;
  master)
    shift
    cmd=("${SPARK_HOME}/bin/spark-class" org.apache.spark.deploy.master.Master
         --host "${SPARK_MASTER_HOST:-0.0.0.0}" --port "${SPARK_MASTER_PORT:-7077}"
         --webui-port "${SPARK_MASTER_WEBUI_PORT:-8080}" "$@")
    ;;
  worker)
    shift
    cmd=("${SPARK_HOME}/bin/spark-class" org.apache.spark.deploy.worker.Worker
         --webui-port "${SPARK_WORKER_WEBUI_PORT:-8081}" "$@" "${SPARK_MASTER_URL:?}")
    ;;
  *)
    cmd=("$@")
    ;;
esac

if [[ "${LMDATA_ENTRYPOINT_DRY_RUN:-0}" == 1 ]]; then
  printf '%s\n' "${cmd[@]}"
  exit 0
fi
exec "${cmd[@]}"
