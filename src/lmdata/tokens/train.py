"""Tokenizers for mixtures: train a byte-level BPE with `tokenizers`, or load a tokenizer.json.

Byte-level BPE (GPT-2 style: ByteLevel pre-tokenizer without a prefix space, ByteLevel decoder,
no normalizer) is lossless: decode(encode(text)) == text for every Unicode string. Special tokens
occurring literally in a document are encoded as ordinary text (`encode_special_tokens`), so the
end-of-document id appears only where lmdata puts it.

Pure module: `tokenizers` is imported inside the functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lmdata.errors import ConfigError


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def train_bpe(
    texts: Iterable[str],
    *,
    vocab_size: int,
    special_tokens: list[str],
    min_frequency: int = 2,
):
    """A byte-level BPE `tokenizers.Tokenizer` trained on `texts` (deterministic for the same
    texts in the same order)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def load_tokenizer(source: str | Path | bytes):
    """A tokenizer from a tokenizer.json path or its bytes, ready for lmdata (special tokens in
    the text are encoded as text)."""
    from tokenizers import Tokenizer

    if isinstance(source, bytes):
        tok = Tokenizer.from_str(source.decode("utf-8"))
    else:
        p = Path(source)
        if not p.exists():
            raise ConfigError(f"tokenizer file not found: {p}")
        try:
            tok = Tokenizer.from_file(str(p))
        except Exception as e:
            raise ConfigError(f"{p}: not a tokenizers tokenizer.json: {e}") from None
    tok.encode_special_tokens = True
    return tok


@dataclass(frozen=True)
class TokenizerInfo:
    vocab_size: int
    eod_id: int
    dtype: str  # numpy dtype name of the shards

    @classmethod
    def of(cls, tok, eod_token: str) -> TokenizerInfo:
        import numpy as np

        from lmdata.tokens.megatron import dtype_for_vocab

        eod = tok.token_to_id(eod_token)
        if eod is None:
            raise ConfigError(f"tokenizer: end-of-document token {eod_token!r} is not in its vocab")
        vocab = tok.get_vocab_size(with_added_tokens=True)
        return cls(vocab, int(eod), np.dtype(dtype_for_vocab(vocab)).name)
