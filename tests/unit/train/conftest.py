"""Real shards for the training tests: a byte-level BPE trained on the running interpreter's
standard-library sources (`<stdlib>/*.py`), written as Megatron shards with a mixture manifest."""

import pytest

from lmdata.train.smoke import build_text_mixture, stdlib_python_files


@pytest.fixture(scope="session")
def stdlib_files():
    files = stdlib_python_files(limit=40, max_bytes=400_000, max_file_bytes=25_000)
    assert len(files) >= 20
    return files


@pytest.fixture(scope="session")
def stdlib_manifest(tmp_path_factory, stdlib_files):
    out = tmp_path_factory.mktemp("stdlib-mixture")
    return build_text_mixture(
        stdlib_files, out, name="stdlib", version=3, vocab_size=384, docs_per_shard=12
    )
