package dev.embedlite.core

import java.text.Normalizer

/**
 * The BERT-family tokenizer of a `tokenizer.json` (BertNormalizer, BertPreTokenizer, WordPiece, a
 * [CLS] ... [SEP] template), written to give the same ids as Hugging Face `tokenizers`, truncation included.
 */
class WordPieceTokenizer private constructor(
    private val vocab: Map<String, Int>,
    private val addedTokens: List<Pair<String, Int>>,
    private val unkId: Int,
    private val prefix: String,
    private val maxCharsPerWord: Int,
    private val cleanText: Boolean,
    private val chineseChars: Boolean,
    private val stripAccents: Boolean,
    private val lowercase: Boolean,
    private val head: List<Int>,
    private val tail: List<Int>,
    val maxLength: Int,
) {
    /** The id that pads a batch (the model ignores it through the attention mask). */
    val padId: Int = vocab["[PAD]"] ?: 0

    /** Token ids with the template's special tokens, truncated to maxLength. */
    fun encode(text: String): IntArray {
        val ids = ArrayList<Int>()
        for ((piece, addedId) in splitAddedTokens(text)) {
            if (addedId != null) ids.add(addedId) else for (word in preTokenize(normalize(piece))) wordPiece(word, ids)
        }
        val room = maxOf(0, maxLength - head.size - tail.size)
        return (head + ids.take(room) + tail).toIntArray()
    }

    /** Special tokens written in the text (such as "[MASK]") are matched before normalisation, as in HF. */
    private fun splitAddedTokens(text: String): List<Pair<String, Int?>> {
        if (addedTokens.isEmpty()) return listOf(text to null)
        val out = ArrayList<Pair<String, Int?>>()
        var start = 0
        var i = 0
        while (i < text.length) {
            val match = addedTokens.firstOrNull { text.startsWith(it.first, i) }
            if (match == null) { i++; continue }
            if (i > start) out.add(text.substring(start, i) to null)
            out.add(match.first to match.second)
            i += match.first.length
            start = i
        }
        if (start < text.length) out.add(text.substring(start) to null)
        return out
    }

    private fun normalize(text: String): String {
        var s = text
        if (cleanText || chineseChars) {
            val sb = StringBuilder()
            s.codePoints().forEach { cp ->
                when {
                    cleanText && (cp == 0 || cp == 0xFFFD || isOther(cp)) -> Unit
                    cleanText && isWhitespace(cp) -> sb.append(' ')
                    chineseChars && isChinese(cp) -> sb.append(' ').appendCodePoint(cp).append(' ')
                    else -> sb.appendCodePoint(cp)
                }
            }
            s = sb.toString()
        }
        if (stripAccents) {
            val sb = StringBuilder()
            Normalizer.normalize(s, Normalizer.Form.NFD).codePoints().forEach { cp ->
                if (Character.getType(cp) != Character.NON_SPACING_MARK.toInt()) sb.appendCodePoint(cp)
            }
            s = sb.toString()
        }
        if (lowercase) {  // per character, as Rust's char::to_lowercase: no context (final sigma stays σ)
            val sb = StringBuilder()
            s.codePoints().forEach { cp ->
                if (cp == 0x130) sb.append("i\u0307") else sb.appendCodePoint(Character.toLowerCase(cp))
            }
            s = sb.toString()
        }
        return s
    }

    /** Split on whitespace (dropped) and punctuation (kept as its own word). */
    private fun preTokenize(text: String): List<String> {
        val words = ArrayList<String>()
        val current = StringBuilder()
        fun flush() { if (current.isNotEmpty()) { words.add(current.toString()); current.setLength(0) } }
        text.codePoints().forEach { cp ->
            when {
                isWhitespace(cp) -> flush()
                isPunctuation(cp) -> { flush(); words.add(String(Character.toChars(cp))) }
                else -> current.appendCodePoint(cp)
            }
        }
        flush()
        return words
    }

    /** Greedy longest-match-first over code points; a word with no full match is one [UNK]. */
    private fun wordPiece(word: String, out: MutableList<Int>) {
        val cps = word.codePoints().toArray()
        if (cps.size > maxCharsPerWord) { out.add(unkId); return }
        val pieces = ArrayList<Int>()
        var start = 0
        while (start < cps.size) {
            var end = cps.size
            var found: Int? = null
            while (start < end) {
                val sub = String(cps, start, end - start)
                found = vocab[if (start > 0) prefix + sub else sub]
                if (found != null) break
                end--
            }
            if (found == null) { out.add(unkId); return }
            pieces.add(found)
            start = end
        }
        out.addAll(pieces)
    }

    companion object {
        /** Reads tokenizer.json; maxLength comes from the manifest (max_seq_length). */
        fun fromJson(json: String, maxLength: Int): WordPieceTokenizer {
            val root = Json.parse(json).asObject("tokenizer.json")
            val model = root["model"].asObject("model")
            require(model["type"] == "WordPiece") {
                "tokenizer model ${model["type"]}: only WordPiece (BERT family) tokenizers are supported"
            }
            val normalizer = root["normalizer"]?.asObject("normalizer")
            require(normalizer == null || normalizer["type"] == "BertNormalizer") {
                "normalizer ${normalizer?.get("type")}: only BertNormalizer is supported"
            }
            val pre = root["pre_tokenizer"]?.asObject("pre_tokenizer")
            require(pre == null || pre["type"] == "BertPreTokenizer") {
                "pre-tokenizer ${pre?.get("type")}: only BertPreTokenizer is supported"
            }
            val vocab = model["vocab"].asObject("vocab").mapValues { it.value.asInt("vocab") }
            val added = (root["added_tokens"] ?: emptyList<Any?>()).asList("added_tokens").map {
                val t = it.asObject("added token")
                (t["content"] as String) to t["id"].asInt("added token id")
            }.sortedByDescending { it.first.length }
            val (head, tail) = template(root["post_processor"]?.asObject("post_processor"), vocab)
            val lower = normalizer?.get("lowercase") as? Boolean ?: false
            return WordPieceTokenizer(
                vocab = vocab,
                addedTokens = added,
                unkId = vocab[model["unk_token"] as String] ?: throw IllegalArgumentException("unk token not in vocab"),
                prefix = model["continuing_subword_prefix"] as? String ?: "##",
                maxCharsPerWord = model["max_input_chars_per_word"]?.asInt("max_input_chars_per_word") ?: 100,
                cleanText = normalizer?.get("clean_text") as? Boolean ?: false,
                chineseChars = normalizer?.get("handle_chinese_chars") as? Boolean ?: false,
                stripAccents = normalizer?.get("strip_accents") as? Boolean ?: lower,  // HF: unset follows lowercase
                lowercase = lower,
                head = head,
                tail = tail,
                maxLength = maxLength,
            )
        }

        private fun template(post: Map<String, Any?>?, vocab: Map<String, Int>): Pair<List<Int>, List<Int>> {
            fun idOf(token: Any?) = vocab[token as String] ?: throw IllegalArgumentException("$token not in vocab")
            return when (post?.get("type")) {
                null -> emptyList<Int>() to emptyList()
                "BertProcessing" -> listOf(post["cls"].asList("cls")[1].asInt("cls")) to
                    listOf(post["sep"].asList("sep")[1].asInt("sep"))
                "TemplateProcessing" -> {
                    val special = post["special_tokens"].asObject("special_tokens")
                    val head = ArrayList<Int>()
                    val tail = ArrayList<Int>()
                    var seen = false
                    for (piece in post["single"].asList("single")) {
                        val p = piece.asObject("template piece")
                        if ("Sequence" in p) { seen = true; continue }
                        val token = p["SpecialToken"].asObject("SpecialToken")["id"]
                        val ids = special[token as String]?.asObject("special token")?.get("ids")?.asList("ids")
                            ?.map { it.asInt("id") } ?: listOf(idOf(token))
                        (if (seen) tail else head).addAll(ids)
                    }
                    head to tail
                }
                else -> throw IllegalArgumentException("post-processor ${post["type"]} is not supported")
            }
        }

        /** Rust's char::is_whitespace: the Unicode White_Space property. */
        internal fun isWhitespace(cp: Int): Boolean = cp in 0x09..0x0D || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
            cp == 0x1680 || cp in 0x2000..0x200A || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
            cp == 0x3000

        /** Categories Cc, Cf, Cs, Co, Cn, except tab and newlines, which count as whitespace. */
        private fun isOther(cp: Int): Boolean {
            if (cp == 0x09 || cp == 0x0A || cp == 0x0D) return false
            return when (Character.getType(cp).toByte()) {
                Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE,
                Character.UNASSIGNED -> true
                else -> false
            }
        }

        private fun isPunctuation(cp: Int): Boolean {
            if (cp in 33..47 || cp in 58..64 || cp in 91..96 || cp in 123..126) return true  // ASCII punctuation
            return when (Character.getType(cp).toByte()) {
                Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                Character.OTHER_PUNCTUATION -> true
                else -> false
            }
        }

        private fun isChinese(cp: Int): Boolean = cp in 0x4E00..0x9FFF || cp in 0x3400..0x4DBF ||
            cp in 0x20000..0x2A6DF || cp in 0x2A700..0x2B73F || cp in 0x2B740..0x2B81F || cp in 0x2B820..0x2CEAF ||
            cp in 0xF900..0xFAFF || cp in 0x2F800..0x2FA1F
    }
}
