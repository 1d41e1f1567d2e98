"""Expected token ids for the Kotlin and Swift tokenizer tests, from Hugging Face `tokenizers` (what the Python
runtime uses); android_demo/core/make_bundles.sh runs it, both cores' tests read what it writes.

Writes into OUT (a build folder, never committed):
  expected.json              {section: {max_length, texts, ids}}, one section per tokenizer:
    gemma                    every parity text of the MiniLM bundle (the STS-B test sentences) and HARD_CASES
    minilm                   HARD_CASES (the bundle's parity.json already holds the STS-B sentences)
    e5                       every sentence of the stsb-multi-mt test files (de es fr ja zh), their NFD forms where
                             they differ, HARD_CASES and MULTILINGUAL_CASES
    e5_student               HARD_CASES and MULTILINGUAL_CASES (its bundle's parity.json holds the sentences)
  SECTION/tokenizer.json     that section's tokenizer: gemma the shared Gemma 3 tokenizer with EmbeddingGemma's
                             post-processor (<bos> $A <eos>), as an exported EmbeddingGemma artifact carries it;
                             minilm the MiniLM bundle's; e5 multilingual-e5-small's SentencePiece Unigram (XLM-R's
                             250,002 pieces); e5_student the multilingual student bundle's (the same, pruned)

Usage: python make_tokenizer_fixtures.py --bundle DIR --gemma PATH/tokenizer.json --e5 PATH/tokenizer.json
           --e5-bundle DIR --multilingual DIR -o OUT
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import unicodedata
from pathlib import Path

from tokenizers import Tokenizer
from tokenizers.processors import TemplateProcessing

GEMMA_MAX_LENGTH = 2048  # EmbeddingGemma's max sequence length
E5_MAX_LENGTH = 512  # multilingual-e5-small's
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
    "CJK extension E a\U0002b820b and a\U0002b91fb, F a\U0002b920b",
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

# What a SentencePiece charsmap, Metaspace and Unigram get wrong first: the charsmap's whole-cluster lookups (under
# 6 bytes: a base and its marks, CR LF, prepended marks), compatibility forms, scripts without spaces, unknown
# characters (fused into one <unk>), whitespace runs and special tokens written in the text.
MULTILINGUAL_CASES = [
    "我爱北京天安门。東京タワーに行きました。서울에서만나요",
    unicodedata.normalize("NFD", "Ça a été très génial à Ærøskøbing, Mädchen, Việt Nam, Ελληνικά, Ǻ ḗ"),
    "A\u0302\u0301 a\u0323\u0302 e\u0301\u0301\u0301 \uff21\u0301 \u0391\u0301 o\u0308\u0304 q\u0307",
    "\u1112\u1161\u11ab\u1100\u116e\u11a8\u110b\u1165 " + unicodedata.normalize("NFD", "한국어 문장입니다"),
    "ＡＢＣ１２３！？ｈｅｌｌｏ\u3000ｗｏｒｌｄ ｶﾞｷﾞｸﾞ ﾊﾟﾋﾟ ｱｲｳ",
    "ﬁ ﬂ ㎏ ㍿ ① ⅷ ½ ™ ℃ ㈱ ¼ ⁵ ₂ ﹏ ︵ ゛",
    "👩\u200d👩\u200d👧\u200d👦 👍🏽 👨🏿\u200d💻 🏳️\u200d🌈 ❤️ ©️ ®\ufe0e #️⃣ 1\u20e3 🇯🇵🇫🇷 🧑🏻\u200d🤝\u200d🧑🏿",
    "Hello мир 世界 مرحبا नमस्ते שלום Γειά σου ሰላም こんにちは สวัสดี",
    "مُحَمَّد رَسُولُ اللَّهِ، كيف حالك؟ ١٢٣ \u0600١٢ \u06dd٣",
    "हिन्दी भाषा में क्षत्रिय और ज़्यादा; বাংলা ভাষা; தமிழ்",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ กำลังทำ ำ",
    "a  b   c    d     e\u00a0\u00a0f\u3000\u3000g",
    "\ttabbed\tand\nnew\r\nlines\r\n\r\n\n\n end \r",
    "\r\n",
    "\u0000nul \u0007bell \u001besc \u007fdel \u200bzw\u200cnj\u200dj\ufeffbom \u2028ls \u2029ps \u0085nel",
    "葛\U000e0100 辻\U000e0101 \ufe00x ︀",
    "𠀀𠀁𠀂 𐀀𐀁 \ue000\ue001 \U0010fffd \u0378\u0379",
    "▁▁x ▁ ▁▁ ▁y▁",
    "<s> </s> <mask> <pad> <unk> a<mask>b <unk><unk> <s>x</s>",
    "ﾟﾞ゛゜ \u3099\u309a か\u3099 ハ\u309a",
    "İstanbul ΣΊΣΥΦΟΣ straße ẞ ǅ ǈ Ǳ ﬀ ﬃ",
    "x" + "\u0301" * 12 + " y\u0301\u0301",
    ("Die Katze schläft auf dem Sofa. 猫がソファで寝ている。El gato duerme. 猫在沙发上睡觉。 " * 60),
]


def multilingual_test_sentences(folder: Path) -> list[str]:
    """Both sentences of every row of stsb-multi-mt's test files (CSV: sentence1, sentence2, score), first seen
    first, then the NFD form of each where it differs."""
    seen: dict[str, None] = {}
    for lang in ("de", "es", "fr", "ja", "zh"):
        with open(folder / f"stsb-{lang}-test.csv", encoding="utf-8", newline="") as f:
            for row in csv.reader(f):
                seen.update(dict.fromkeys(row[:2]))
    nfd = [unicodedata.normalize("NFD", t) for t in seen]
    return list(seen) + [t for t in dict.fromkeys(nfd) if t not in seen]


def encode_all(tokenizer: Tokenizer, texts: list[str], max_length: int) -> dict:
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return {"max_length": max_length, "texts": texts, "ids": [e.ids for e in tokenizer.encode_batch(texts)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="export --target ios bundle with parity.json")
    parser.add_argument("--gemma", type=Path, required=True, help="the Gemma 3 tokenizer.json (shared data)")
    parser.add_argument("--e5", type=Path, required=True, help="multilingual-e5-small's tokenizer.json")
    parser.add_argument("--e5-bundle", type=Path, required=True, help="the multilingual student's bundle")
    parser.add_argument("--multilingual", type=Path, required=True, help="the stsb-multi-mt folder (shared data)")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()

    parity = json.loads((args.bundle / "parity.json").read_text(encoding="utf-8"))
    manifest = json.loads((args.bundle / "manifest.json").read_text(encoding="utf-8"))
    gemma = Tokenizer.from_file(str(args.gemma))
    gemma.post_processor = TemplateProcessing(
        single="<bos> $A <eos>",
        special_tokens=[("<bos>", gemma.token_to_id("<bos>")), ("<eos>", gemma.token_to_id("<eos>"))],
    )
    for section in ("gemma", "minilm", "e5", "e5_student"):
        (args.output / section).mkdir(parents=True, exist_ok=True)
    gemma.save(str(args.output / "gemma" / "tokenizer.json"))
    shutil.copyfile(args.bundle / "tokenizer.json", args.output / "minilm" / "tokenizer.json")
    shutil.copyfile(args.e5, args.output / "e5" / "tokenizer.json")
    shutil.copyfile(args.e5_bundle / "tokenizer.json", args.output / "e5_student" / "tokenizer.json")
    minilm = Tokenizer.from_file(str(args.bundle / "tokenizer.json"))
    e5 = Tokenizer.from_file(str(args.e5))
    student_manifest = json.loads((args.e5_bundle / "manifest.json").read_text(encoding="utf-8"))
    student = Tokenizer.from_file(str(args.e5_bundle / "tokenizer.json"))
    expected = {
        "gemma": encode_all(gemma, parity["texts"] + HARD_CASES, GEMMA_MAX_LENGTH),
        "minilm": encode_all(minilm, HARD_CASES, manifest["max_seq_length"]),
        "e5": encode_all(
            e5, multilingual_test_sentences(args.multilingual) + HARD_CASES + MULTILINGUAL_CASES, E5_MAX_LENGTH
        ),
        "e5_student": encode_all(student, HARD_CASES + MULTILINGUAL_CASES, student_manifest["max_seq_length"]),
    }
    (args.output / "expected.json").write_text(json.dumps(expected, ensure_ascii=False), encoding="utf-8")
    print(f"{args.output}: " + ", ".join(f"{len(v['texts'])} {k}" for k, v in expected.items()) + " texts")


if __name__ == "__main__":
    main()
