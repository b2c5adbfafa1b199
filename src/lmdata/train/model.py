"""A small GPT: pre-LN decoder blocks, causal self-attention through
`torch.nn.functional.scaled_dot_product_attention` (flash / memory-efficient kernels on CUDA),
learned positions, GELU MLP, tied input/output embeddings, GPT-2 initialisation.

Presets (`PRESETS`): "tiny" for CPU tests, "small" for one GPU. Any field can be overridden.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from lmdata.errors import ConfigError


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 1024  # the tokenizer's; the embedding is padded to a multiple of pad_vocab_to
    seq_len: int = 64
    n_layer: int = 2
    n_head: int = 2
    d_model: int = 64
    mlp_ratio: int = 4
    dropout: float = 0.0
    bias: bool = False
    pad_vocab_to: int = 64

    @property
    def padded_vocab(self) -> int:
        m = self.pad_vocab_to
        return -(-self.vocab_size // m) * m

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GPTConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# Training presets: the model shape plus the batch / step defaults it was sized for.
PRESETS: dict[str, dict[str, Any]] = {
    # CPU tests: ~0.1 M parameters besides the embedding, a few ms per step.
    "tiny": {
        "model": {"n_layer": 2, "n_head": 2, "d_model": 64, "seq_len": 64},
        "batch_size": 8,
        "lr": 3e-3,
        "warmup_steps": 5,
    },
    # One GPU: GPT-2-small-like depth at half the width, 1024 context, bf16.
    "small": {
        "model": {"n_layer": 8, "n_head": 8, "d_model": 512, "seq_len": 1024},
        "batch_size": 32,
        "lr": 6e-4,
        "warmup_steps": 30,
    },
}


def model_config(preset: str, vocab_size: int, **overrides: Any) -> GPTConfig:
    if preset not in PRESETS:
        raise ConfigError(f"unknown model config {preset!r} (known: {', '.join(PRESETS)})")
    cfg = GPTConfig(vocab_size=vocab_size, **PRESETS[preset]["model"])
    cfg = replace(cfg, **{k: v for k, v in overrides.items() if v is not None})
    if cfg.d_model % cfg.n_head:
        raise ConfigError(f"d_model {cfg.d_model} is not divisible by n_head {cfg.n_head}")
    return cfg


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model, bias=cfg.bias)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model, bias=cfg.bias)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.n_head, c // self.n_head).transpose(1, 2) for z in (q, k, v))
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0
        )
        return self.proj(y.transpose(1, 2).contiguous().view(b, t, c))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        hidden = cfg.mlp_ratio * cfg.d_model
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, hidden, bias=cfg.bias),
            nn.GELU(approximate="tanh"),
            nn.Linear(hidden, cfg.d_model, bias=cfg.bias),
        )
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.ln1(x)))
        return x + self.drop(self.mlp(self.ln2(x)))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.padded_vocab, cfg.d_model)
        self.wpe = nn.Embedding(cfg.seq_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model, bias=cfg.bias)
        self.lm_head = nn.Linear(cfg.d_model, cfg.padded_vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # tied embeddings
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2: scale residual projections by depth
            if name.endswith("attn.proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def num_parameters(self, non_embedding: bool = False) -> int:
        n = sum(p.numel() for p in self.parameters())  # tied weight counted once
        return n - self.wpe.weight.numel() - self.wte.weight.numel() if non_embedding else n

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        t = idx.shape[1]
        if t > self.cfg.seq_len:
            raise ValueError(f"sequence length {t} > model seq_len {self.cfg.seq_len}")
        pos = torch.arange(t, device=idx.device)
        x = self.drop(self.wte(idx) + self.wpe(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(
                logits.float().view(-1, logits.size(-1)), targets.reshape(-1)
            )
        return logits, loss

    def optimizer(self, lr: float, weight_decay: float, betas=(0.9, 0.95), fused: bool = False):
        """AdamW with weight decay on matrices only (not on norms, biases or positions)."""
        decay, no_decay = [], []
        for name, p in self.named_parameters():
            if not p.requires_grad:
                continue
            (decay if p.dim() >= 2 and name != "wpe.weight" else no_decay).append(p)
        groups = [
            {"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=fused)
