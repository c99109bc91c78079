"""Analytic cost model of the encoder-decoder Transformer: matmul FLOPs, parameters, memory.

All counts are for float32 and count a multiply-add as 2 FLOPs. Notation: ``B`` batch,
``S`` source length, ``T`` target length, ``d`` d_model, ``f`` dff, ``h`` heads, ``L``
layers (each stack), ``V`` target vocabulary.

Forward matmul FLOPs (embedding look-ups, softmax, norms and element-wise ops excluded):

    encoder layer   2·B·S·(4d² + 2·d·f) + 4·B·h·S²·(d/h)      Q,K,V,O + FFN + QKᵀ,AV
    decoder layer   2·B·T·(4d² + 2·d·f) + 4·B·T²·d             self-attention + FFN
                  + 2·B·T·2d² + 2·B·S·2d² + 4·B·T·S·d          cross: Q,O on T; K,V on S
    output          2·B·T·d·V
    train step      3 × forward (the backward pass is two matmuls per forward matmul)

The causal self-attention is counted in full (T², not T²/2): that is what is computed.
At the reference config (L=4, d=256, f=1024, h=8, V=8000, B=32, S=T=64) one training step
is 120.2 GFLOP, 2048 target tokens.
"""

FLOAT_BYTES = 4


def forward_flops(num_layers, d_model, dff, vocab, batch, source_length, target_length):
    """Matmul FLOPs of one forward pass (see the module docstring)."""
    b, s, t, d, f = batch, source_length, target_length, d_model, dff
    encoder = 2 * b * s * (4 * d * d + 2 * d * f) + 4 * b * s * s * d
    decoder = (2 * b * t * (4 * d * d + 2 * d * f) + 4 * b * t * t * d
               + 2 * b * t * 2 * d * d + 2 * b * s * 2 * d * d + 4 * b * t * s * d)
    output = 2 * b * t * d * vocab
    return num_layers * (encoder + decoder) + output


def train_step_flops(*args, **kwargs):
    """Forward + backward matmul FLOPs of one training step: 3 × forward."""
    return 3 * forward_flops(*args, **kwargs)


def parameter_count(num_layers, d_model, dff, input_vocab, target_vocab):
    """Weights of tfbig's Transformer (untied output projection, sinusoidal positions)."""
    d, f = d_model, dff
    attention = 4 * (d * d + d)
    feed_forward = d * f + f + f * d + d
    norm = 2 * d
    encoder_layer = attention + feed_forward + 2 * norm
    decoder_layer = 2 * attention + feed_forward + 3 * norm
    embeddings = (input_vocab + target_vocab) * d
    output = d * target_vocab + target_vocab
    return num_layers * (encoder_layer + decoder_layer) + embeddings + output


def activation_floats(num_layers, d_model, dff, num_heads, vocab, batch, source_length,
                      target_length):
    """Floats kept for the backward pass, counted the way autodiff keeps them.

    Per source token and encoder layer: ~10·d (layer input, Q, K, V, attention output,
    two residual-dropout masks, two norm inputs, FFN input) + 2·f (ReLU output and its
    gradient mask) + 3·h·S (softmax output, its dropout mask, the dropped weights).
    Per target token and decoder layer: ~15·d + 2·f + 3·h·T + 3·h·S.
    Output: logits, log-softmax and their gradient, 3·V per target token.
    """
    d, f, h, s, t = d_model, dff, num_heads, source_length, target_length
    encoder = batch * s * (10 * d + 2 * f + 3 * h * s)
    decoder = batch * t * (15 * d + 2 * f + 3 * h * t + 3 * h * s)
    return num_layers * (encoder + decoder) + 3 * batch * t * vocab


def training_memory_estimate(num_layers, d_model, dff, num_heads, vocab, batch,
                             source_length, target_length):
    """``{"params", "grads", "optimizer", "activations", "total"}`` in bytes (float32).

    Adam(W) keeps two slots (m, v) per weight; gradients are one more copy of the weights.
    """
    params = parameter_count(num_layers, d_model, dff, vocab, vocab) * FLOAT_BYTES
    activations = activation_floats(num_layers, d_model, dff, num_heads, vocab, batch,
                                    source_length, target_length) * FLOAT_BYTES
    estimate = {"params": params, "grads": params, "optimizer": 2 * params,
                "activations": activations}
    estimate["total"] = sum(estimate.values())
    return estimate


if __name__ == "__main__":
    reference = dict(num_layers=4, d_model=256, dff=1024, vocab=8000, batch=32,
                     source_length=64, target_length=64)
    print(f"train step: {train_step_flops(**reference) / 1e9:.1f} GFLOP")
    print(f"parameters: {parameter_count(4, 256, 1024, 8000, 8000):,}")
    memory = training_memory_estimate(num_heads=8, **reference)
    print({name: f"{value / 2**20:.0f} MiB" for name, value in memory.items()})
