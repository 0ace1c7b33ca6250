"""The sequence models of the ``lstm`` and ``gpt_small`` workloads, written once against a
torch-like module ``m`` (like ``models.py``, no framework is imported at module level).

``lstm``: the LSTM language model of PyTorch's word_language_model example (an embedding, a
2-layer ``nn.LSTM``, a linear decoder). ``gpt_small``: a nanoGPT-style decoder-only Transformer
(token and position embeddings, pre-norm blocks of causal self-attention through
``F.scaled_dot_product_attention`` and a GELU MLP, a final LayerNorm, an untied head).
"""
from __future__ import annotations

from typing import Any

_CLASSES: dict[int, tuple[type, type]] = {}  # id(m) -> (LSTMModel, GPT)


def classes(m: Any) -> tuple[type, type]:
    """The ``LSTMModel`` and ``GPT`` classes for framework ``m``."""
    if id(m) in _CLASSES:
        return _CLASSES[id(m)]
    nn, F = m.nn, m.nn.functional

    class LSTMModel(nn.Module):
        def __init__(self, ntoken: int, ninp: int, nhid: int, nlayers: int) -> None:
            super().__init__()
            self.encoder = nn.Embedding(ntoken, ninp)
            self.rnn = nn.LSTM(ninp, nhid, nlayers)
            self.decoder = nn.Linear(nhid, ntoken)

        def forward(self, x: Any) -> Any:
            output, _ = self.rnn(self.encoder(x))
            return self.decoder(output)

    class Block(nn.Module):
        def __init__(self, n_embd: int, n_head: int) -> None:
            super().__init__()
            self.n_head = n_head
            self.ln_1 = nn.LayerNorm(n_embd)
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.attn_proj = nn.Linear(n_embd, n_embd)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.mlp_proj = nn.Linear(4 * n_embd, n_embd)

        def attn(self, x: Any) -> Any:
            B, T, C = x.size()
            q, k, v = self.c_attn(x).split(C, dim=2)
            q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.attn_proj(y.transpose(1, 2).contiguous().view(B, T, C))

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))

    class GPT(nn.Module):
        def __init__(self, vocab: int, block_size: int, n_layer: int, n_embd: int,
                     n_head: int) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.h = nn.ModuleList([Block(n_embd, n_head) for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)

        def forward(self, idx: Any, targets: Any) -> Any:
            T = idx.size(1)
            x = self.wte(idx) + self.wpe(m.arange(T))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))

    _CLASSES[id(m)] = LSTMModel, GPT
    return LSTMModel, GPT
