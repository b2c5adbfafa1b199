"""lmdata: a distributed dataset-engineering workflow for LLM pretraining data."""

__version__ = "0.1.0"
