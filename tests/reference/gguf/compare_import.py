"""Checks `tunefleet-trainer import` of a GGUF file against the references
users trust, for tests/reference/gguf's CTest:

    python compare_import.py <model.gguf> <imported HF dir> <texts.jsonl>

1. Weights: every tensor of the imported model.safetensors equals, bit for
   bit, what transformers' GGUF loader (gguf-py's dequantize, then its llama
   q/k un-permutation) makes of the file; the same names, nothing missing.
2. Config: the fields transformers reads from the GGUF metadata agree.
3. Tokenizer: the imported tokenizer.json gives, through Hugging Face
   `tokenizers`, the ids of the model family's published tokenizer
   definition (built here from the GGUF vocabulary and merges: for SmolLM2,
   byte-level BPE with single-digit splitting) on every reference text, and
   the special tokens have the ids the family documents.

Prints one line per failure and exits 1 if any; 0 and a summary otherwise.
"""

import json
import os
import sys


def published_tokenizer(reader, pre):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from tokenizers import AddedToken

    f = reader.fields
    tokens = [bytes(f["tokenizer.ggml.tokens"].parts[i]).decode("utf-8") for i in f["tokenizer.ggml.tokens"].data]
    types = [int(f["tokenizer.ggml.token_type"].parts[i][0]) for i in f["tokenizer.ggml.token_type"].data]
    merges = [tuple(bytes(f["tokenizer.ggml.merges"].parts[i]).decode("utf-8").split(" ", 1))
              for i in f["tokenizer.ggml.merges"].data]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    if pre == "smollm":
        # HuggingFaceTB/SmolLM2-*'s tokenizer.json
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ])
    else:
        raise SystemExit(f"compare_import.py: no published definition for tokenizer.ggml.pre={pre!r}")
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    return tok


def main(argv):
    if len(argv) != 4:
        print("usage: python compare_import.py <model.gguf> <imported dir> <texts.jsonl>", file=sys.stderr)
        return 2
    gguf_path, out_dir, texts_path = argv[1:]
    import torch
    from gguf import GGUFReader
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    failures = []
    gguf_dir, gguf_name = os.path.split(os.path.abspath(gguf_path))
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_name, dtype=torch.float32)
    ours = load_file(f"{out_dir}/model.safetensors")
    ref_tensors = dict(model.state_dict())
    if model.config.tie_word_embeddings:
        ref_tensors.pop("lm_head.weight", None)  # the embedding, as HF saves tied models
    if set(ref_tensors) != set(ours):
        failures.append(f"tensor names differ: only in transformers {sorted(set(ref_tensors) - set(ours))[:5]}, "
                        f"only in ours {sorted(set(ours) - set(ref_tensors))[:5]}")
    equal = 0
    for name in sorted(set(ref_tensors) & set(ours)):
        a, b = ref_tensors[name].to(torch.float32), ours[name]
        if a.shape != b.shape:
            failures.append(f"{name}: shape {tuple(b.shape)}, transformers {tuple(a.shape)}")
        elif not torch.equal(a, b):
            failures.append(f"{name}: max |diff| {(a - b).abs().max().item():.3g} (must be bit-equal)")
        else:
            equal += 1

    config = json.load(open(f"{out_dir}/config.json"))
    for key, value in model.config.to_dict().items():
        if key in ("architectures", "_name_or_path", "torch_dtype", "dtype", "transformers_version") or key not in config:
            continue
        if isinstance(value, float):
            same = abs(config[key] - value) <= 1e-6 * max(1.0, abs(value))
        else:
            same = config[key] == value
        if not same:
            failures.append(f"config {key}: ours {config[key]!r}, transformers {value!r}")

    reader = GGUFReader(gguf_path)
    pre = bytes(reader.fields["tokenizer.ggml.pre"].parts[-1]).decode()
    published = published_tokenizer(reader, pre)
    imported = Tokenizer.from_file(f"{out_dir}/tokenizer.json")
    with open(texts_path, encoding="utf-8", newline="") as f:
        texts = [json.loads(line)["text"] for line in f.read().split("\n") if line.strip()]
    for i, text in enumerate(texts):
        a = published.encode(text, add_special_tokens=False).ids
        b = imported.encode(text, add_special_tokens=False).ids
        if a != b:
            failures.append(f"text #{i} {text[:40]!r}: ids {b[:12]}..., published definition {a[:12]}...")
    if pre == "smollm":
        for token, want in (("<|endoftext|>", 0), ("<|im_start|>", 1), ("<|im_end|>", 2)):
            if imported.token_to_id(token) != want:
                failures.append(f"{token} has id {imported.token_to_id(token)}, SmolLM2 documents {want}")
        tc = json.load(open(f"{out_dir}/tokenizer_config.json"))
        if tc.get("eos_token") != "<|im_end|>" or tc.get("bos_token") != "<|im_start|>":
            failures.append(f"tokenizer_config bos/eos {tc.get('bos_token')}/{tc.get('eos_token')}, "
                            "SmolLM2-Instruct's are <|im_start|>/<|im_end|>")
        if "<|im_start|>" not in tc.get("chat_template", ""):
            failures.append("tokenizer_config.json has no ChatML chat template")

    for line in failures:
        print("MISMATCH", line)
    print(f"{equal} tensors bit-equal, {len(texts)} texts tokenized, {len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
