"""The reference config in PyTorch: ``torch.nn.Transformer``, trained the usual way.

The performance issue lists "PyTorch nn.Transformer (2 threads)" among the implementations
tfbig must beat. This is that model, built the way PyTorch's own tutorials build it:

* token embeddings × √d_model plus the sinusoidal position table (as tfbig and the TF
  tutorial), dropout 0.1 after it;
* ``nn.Transformer`` (post-norm, ReLU, ``batch_first``), 4 + 4 layers, d_model 256, 8 heads,
  dff 1024, with the causal mask and source/target key-padding masks;
* a ``Linear`` to the vocabulary, cross-entropy ignoring padding (id 0), ``AdamW``;
* the same synthetic batch as every other row (``workloads.synthetic_batch``), the same
  token count (batch × target length).

It runs in its own process (``train_throughput.py --worker``), never beside TensorFlow:
two runtimes in one process would fight over the same two cores. Only where ``torch``
imports (it is not a tfbig dependency); otherwise its row is skipped with one line.
"""

import math
import os
import time

import workloads


def unavailable():
    """``None`` where ``torch`` imports, else why not (one line)."""
    try:
        import torch  # noqa: F401
    except ImportError as error:
        return f"torch does not import ({error}); pip install torch to add this row"
    return None


def build(size):
    """``(model, optimizer, loss)`` for ``size`` (a :class:`workloads.Size`)."""
    import torch
    from torch import nn

    class TorchTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.source_embedding = nn.Embedding(size.vocab, size.d_model, padding_idx=0)
            self.target_embedding = nn.Embedding(size.vocab, size.d_model, padding_idx=0)
            position = torch.arange(size.length)[:, None]
            rates = torch.exp(torch.arange(0, size.d_model, 2) * (-math.log(1e4) / size.d_model))
            table = torch.zeros(size.length, size.d_model)
            table[:, 0::2], table[:, 1::2] = torch.sin(position * rates), torch.cos(position * rates)
            self.register_buffer("positions", table)
            self.dropout = nn.Dropout(size.dropout)
            self.transformer = nn.Transformer(
                d_model=size.d_model, nhead=size.num_heads, num_encoder_layers=size.num_layers,
                num_decoder_layers=size.num_layers, dim_feedforward=size.dff,
                dropout=size.dropout, batch_first=True)
            self.output = nn.Linear(size.d_model, size.vocab)

        def embed(self, embedding, ids):
            x = embedding(ids) * math.sqrt(size.d_model) + self.positions[:ids.shape[1]]
            return self.dropout(x)

        def forward(self, source, target):
            causal = nn.Transformer.generate_square_subsequent_mask(target.shape[1])
            source_padding, target_padding = source == 0, target == 0
            x = self.transformer(
                self.embed(self.source_embedding, source),
                self.embed(self.target_embedding, target), tgt_mask=causal,
                tgt_is_causal=True, src_key_padding_mask=source_padding,
                tgt_key_padding_mask=target_padding, memory_key_padding_mask=source_padding)
            return self.output(x)

    model = TorchTransformer()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    return model, optimizer, nn.CrossEntropyLoss(ignore_index=0)


def worker(name, size, steps, warmup_steps=1):
    """Fresh process: train ``steps`` steps; → the same row ``train_throughput.worker`` gives."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)  # both cores, as TensorFlow uses
    rss_runtime = workloads.peak_rss_mib()
    (source, target_in), target_out = workloads.synthetic_batch(size)
    source, target_in, target_out = (torch.from_numpy(x).long()
                                     for x in (source, target_in, target_out))
    model, optimizer, loss_function = build(size)
    model.train()  # dropout on

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = model(source, target_in)
        loss = loss_function(logits.reshape(-1, size.vocab), target_out.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        return float(loss)

    started = time.perf_counter()
    for _ in range(warmup_steps):
        step()
    compile_seconds = time.perf_counter() - started
    timing = workloads.Timings()
    losses = []
    for _ in range(steps):  # one step per measurement: its best and median, as fit's timer
        timing.measure(lambda: losses.append(step()))
    return workloads.worker_row(name, size, timing, rss_runtime, compile_seconds,
                                loss_finite=all(math.isfinite(x) for x in losses),
                                torch_version=torch.__version__,
                                threads=torch.get_num_threads())
