package dev.embedlite.core

import java.text.Normalizer

/**
 * The BERT-family tokenizer of a `tokenizer.json` (BertNormalizer, BertPreTokenizer, WordPiece, a
 * [CLS] ... [SEP] template), written to give the same ids as Hugging Face `tokenizers`, truncation included.
 */
class WordPieceTokenizer private constructor(
    private val vocab: Map<String, Int>,
    addedTokens: AddedTokens,
    private val unkId: Int,
    private val prefix: String,
    private val maxCharsPerWord: Int,
    private val cleanText: Boolean,
    private val chineseChars: Boolean,
    private val stripAccents: Boolean,
    private val lowercase: Boolean,
    template: Template,
    maxLength: Int,
) : TemplateTokenizer(addedTokens, template, maxLength, vocab::get) {
    override fun encodeText(text: String, atStart: Boolean, out: MutableList<Int>) {
        for (word in preTokenize(normalize(text))) wordPiece(word, out)
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
        /** From a parsed tokenizer.json (see Tokenizer.fromJson); maxLength comes from the manifest. */
        internal fun fromJson(root: Map<String, Any?>, maxLength: Int): WordPieceTokenizer {
            val model = root["model"].asObject("model")
            val normalizer = root["normalizer"]?.asObject("normalizer")
            require(normalizer == null || normalizer["type"] == "BertNormalizer") {
                "normalizer ${normalizer?.get("type")}: only BertNormalizer is supported with WordPiece"
            }
            val pre = root["pre_tokenizer"]?.asObject("pre_tokenizer")
            require(pre == null || pre["type"] == "BertPreTokenizer") {
                "pre-tokenizer ${pre?.get("type")}: only BertPreTokenizer is supported with WordPiece"
            }
            val vocab = model["vocab"].asObject("vocab").mapValues { it.value.asInt("vocab") }
            val lower = normalizer?.get("lowercase") as? Boolean ?: false
            return WordPieceTokenizer(
                vocab = vocab,
                addedTokens = AddedTokens.of(root),
                unkId = vocab[model["unk_token"] as String] ?: throw IllegalArgumentException("unk token not in vocab"),
                prefix = model["continuing_subword_prefix"] as? String ?: "##",
                maxCharsPerWord = model["max_input_chars_per_word"]?.asInt("max_input_chars_per_word") ?: 100,
                cleanText = normalizer?.get("clean_text") as? Boolean ?: false,
                chineseChars = normalizer?.get("handle_chinese_chars") as? Boolean ?: false,
                stripAccents = normalizer?.get("strip_accents") as? Boolean ?: lower,  // HF: unset follows lowercase
                lowercase = lower,
                template = Template.of(root["post_processor"]?.asObject("post_processor")) { vocab[it] },
                maxLength = maxLength,
            )
        }

        /** Rust's char::is_whitespace: the Unicode White_Space property. */
        internal fun isWhitespace(cp: Int): Boolean = cp in 0x09..0x0D || cp == 0x20 || cp == 0x85 || cp == 0xA0 ||
            cp == 0x1680 || cp in 0x2000..0x200A || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F ||
            cp == 0x3000

        /** Categories Cc, Cf, Cs, Co, except tab and newlines, which count as whitespace. Not Cn: `tokenizers`' category
         * tables have none, so an unassigned code point (or one newer than the JDK's Unicode, such as an emoji of
         * Unicode 14) stays and becomes [UNK], as the Swift core does. */
        private fun isOther(cp: Int): Boolean {
            if (cp == 0x09 || cp == 0x0A || cp == 0x0D) return false
            return when (Character.getType(cp).toByte()) {
                Character.CONTROL, Character.FORMAT, Character.SURROGATE, Character.PRIVATE_USE -> true
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

        /** tokenizers' ranges, which skip U+2B820..U+2B91F. */
        private fun isChinese(cp: Int): Boolean = cp in 0x4E00..0x9FFF || cp in 0x3400..0x4DBF ||
            cp in 0x20000..0x2A6DF || cp in 0x2A700..0x2B73F || cp in 0x2B740..0x2B81F || cp in 0x2B920..0x2CEAF ||
            cp in 0xF900..0xFAFF || cp in 0x2F800..0x2FA1F
    }
}
