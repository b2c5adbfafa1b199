"""Training on a mixture's shards (optional extra `lmdata[train]`: torch).

- `loader`: manifest validation + sha256 check, the Megatron-style GPT sample index over the
  shards' memmaps, the torch DataLoader.
- `model`: a small GPT (presets "tiny" for CPU, "small" for one GPU).
- `run`: the training loop -> checkpoint.pt, training_report.json, loss_curve.png.
- `launch`: local subprocess / Kubernetes pod / remote command, from params.yaml `train:`.
- `cli`: `lmdata train` (last stdout line: a JSON summary).
- `smoke`: a small mixture from plain text files (tests, GPU checks), no Spark.

Nothing here imports torch at module level except `model`; nothing imports pyspark or airflow.
"""
