"""Expected token ids for the Swift tokenizer tests, from Hugging Face `tokenizers` (what the Python runtime uses).

Writes into OUT (a build folder, never committed):
  gemma/tokenizer.json  the shared Gemma 3 tokenizer with EmbeddingGemma's post-processor (<bos> $A <eos>),
                        as an exported EmbeddingGemma artifact carries it
  expected.json         {"gemma": {max_length, texts, ids}, "minilm": {max_length, texts, ids}}: every parity
                        text of the bundle (the STS-B test sentences) plus HARD_CASES for Gemma, HARD_CASES for
                        MiniLM (its parity.json already holds the STS-B sentences)

Usage: python make_tokenizer_fixtures.py --bundle DIR --gemma PATH/tokenizer.json -o OUT
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tokenizers import Tokenizer
from tokenizers.processors import TemplateProcessing

GEMMA_MAX_LENGTH = 2048  # EmbeddingGemma's max sequence length
HARD_CASES = [
    "",
    " ",
    "   leading and trailing   ",
    "two  spaces",
    "tabs\tand\t\ttabs",
    "new\nline\n\n\nruns\r\n\r\n",
    " \t\n \u00a0\u3000 mixed whitespace \u2003\u2009end",
    "\u2581literal metaspace \u2581\u2581",
    "emoji 😀 👍🏽 👩‍👩‍👧‍👦 🇺🇸 🫠 🥺 ✨",
    "東京は日本の首都です。",
    "北京欢迎你，你好世界！",
    "한국어 문장입니다",
    "ｶﾀｶﾅ ﾃｽﾄ",
    "e\u0301 vs \u00e9, a\u0308 vs \u00e4, Z\u0351\u0308\u036a\u0350a\u0357l\u0351g\u0344o",
    "Ω Å \u212b \u2126 ﬁ ²",
    "control\u0000\u0007\u001b\u007f chars",
    "zero\u200bwidth\ufeffjoiner\u200d and \u2060 and \U000e0001 tag",
    "unassigned \u0378 private \ue000 \U0010fffd plane 16",
    "linear B 𐀀 𐀁 and cuneiform 𒀀",
    "مرحبا بالعالم שלום",
    "नमस्ते दुनिया",
    "special <bos> and <eos> and <start_of_turn>user\nhi<end_of_turn> written in text",
    "[CLS] [MASK] [SEP] written in text",
    '<div class="x">html</div> <br/>',
    "don't re-use 3.14 $5 #tag @you",
    "ΣΊΣΥΦΟΣ İstanbul ÅNGSTRÖM straße ẞ",
    "a" * 150,
    "word " * 600,
    "embedding " * 2500,
    ("The quick brown fox jumps over the lazy dog. Émigré café, naïve façade; 東京 😀 " * 40)[:3000],
]


def encode_all(tokenizer: Tokenizer, texts: list[str], max_length: int) -> dict:
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return {"max_length": max_length, "texts": texts, "ids": [e.ids for e in tokenizer.encode_batch(texts)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="export --target ios bundle with parity.json")
    parser.add_argument("--gemma", type=Path, required=True, help="the Gemma 3 tokenizer.json (shared data)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    parity = json.loads((args.bundle / "parity.json").read_text(encoding="utf-8"))
    manifest = json.loads((args.bundle / "manifest.json").read_text(encoding="utf-8"))
    gemma = Tokenizer.from_file(str(args.gemma))
    gemma.post_processor = TemplateProcessing(
        single="<bos> $A <eos>",
        special_tokens=[("<bos>", gemma.token_to_id("<bos>")), ("<eos>", gemma.token_to_id("<eos>"))],
    )
    (args.output / "gemma").mkdir(parents=True, exist_ok=True)
    gemma.save(str(args.output / "gemma" / "tokenizer.json"))
    minilm = Tokenizer.from_file(str(args.bundle / "tokenizer.json"))
    expected = {
        "gemma": encode_all(gemma, parity["texts"] + HARD_CASES, GEMMA_MAX_LENGTH),
        "minilm": encode_all(minilm, HARD_CASES, manifest["max_seq_length"]),
    }
    (args.output / "expected.json").write_text(json.dumps(expected, ensure_ascii=False), encoding="utf-8")
    print(f"{args.output}: {len(expected['gemma']['texts'])} Gemma and {len(HARD_CASES)} MiniLM texts")


if __name__ == "__main__":
    main()
