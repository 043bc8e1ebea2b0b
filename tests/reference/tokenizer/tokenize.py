"""Prints reference token ids from Hugging Face `tokenizers` (the Rust library,
through its Python binding), for trainer/tokenizer's reference test.

    python tokenize.py <tokenizer.json> <texts.jsonl>

texts.jsonl: one JSON object per line with a "text" field. Output: one JSON
line per text: {"ids": [...], "normalized": "..."} where ids are encoded
without special tokens (no BOS/EOS; special tokens written in the text are
still matched) and normalized is the text after the tokenizer's normaliser
(what a decode of the ids should give back).

Only tokenizer.json is read: tokenizer_config.json holds transformers'
settings (chat template, add_bos_token), none of which changes an encode
without special tokens.
"""

import json
import sys

try:
    from tokenizers import Tokenizer
except ImportError as e:
    sys.exit(f"tokenize.py: cannot import tokenizers ({e}) with {sys.executable}: "
             "run scripts/install_deps.sh (requirements.txt pins it)")


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python tokenize.py <tokenizer.json> <texts.jsonl>", file=sys.stderr)
        return 2
    tokenizer = Tokenizer.from_file(argv[1])
    normalizer = tokenizer.normalizer
    # Split on "\n" only, as the C++ test does (str.splitlines would also split
    # on U+2028 and friends); UTF-8 whatever the locale.
    with open(argv[2], encoding="utf-8", newline="") as f:
        lines = [line for line in f.read().split("\n") if line.strip()]
    out = []
    for line in lines:
        text = json.loads(line)["text"]
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        normalized = normalizer.normalize_str(text) if normalizer is not None else text
        out.append(json.dumps({"ids": ids, "normalized": normalized}))
    sys.stdout.buffer.write(("\n".join(out) + "\n").encode("ascii"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
