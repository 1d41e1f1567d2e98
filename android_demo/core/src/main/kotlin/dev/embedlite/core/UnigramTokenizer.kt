package dev.embedlite.core

/**
 * A SentencePiece Unigram `tokenizer.json`, such as XLM-R's and multilingual-e5's (Precompiled charsmap and Replace
 * normalisers, Metaspace pre-tokenizer, `<s> text </s>` template), written to give the same ids as Hugging Face
 * `tokenizers`: per word, the Viterbi path of highest total score over the pieces; a character no piece spells is
 * <unk> with the lowest score less 10, and consecutive unknown characters make one <unk>.
 */
class UnigramTokenizer private constructor(
    private val pieces: Pieces,
    private val scores: DoubleArray,
    private val unkId: Int,
    private val byteFallback: Boolean,
    private val normalizer: Normalizer,
    private val metaspace: Metaspace?,
    addedTokens: AddedTokens,
    template: Template,
    maxLength: Int,
) : TemplateTokenizer(addedTokens, template, maxLength, { pieces.find(it.toByteArray(Charsets.UTF_8)) }) {
    private val unkScore = (scores.minOrNull() ?: 0.0) - UNK_PENALTY

    override fun encodeText(text: String, atStart: Boolean, out: MutableList<Int>) {
        val normalized = normalizer.normalize(text)
        if (normalized.isEmpty()) return  // `tokenizers` drops an empty split before pre-tokenizing it
        val words = metaspace?.words(normalized, atStart) ?: listOf(normalized)
        for (word in words) viterbi(word.toByteArray(Charsets.UTF_8), out)
    }

    /** The best segmentation of one word, as `tokenizers`' Unigram::encode_optimized (positions are UTF-8 bytes). */
    private fun viterbi(word: ByteArray, out: MutableList<Int>) {
        val size = word.size
        if (size == 0) return
        val best = DoubleArray(size + 1)
        val from = IntArray(size + 1) { -1 }  // where the best path's last token ending here starts
        val id = IntArray(size + 1)
        var start = 0
        while (start < size) {
            val here = best[start]
            val charLength = utf8Length(word[start])
            var single = false
            pieces.prefixes(word, start) { piece, length ->
                val end = start + length
                val score = scores[piece] + here
                if (from[end] < 0 || score > best[end]) { best[end] = score; from[end] = start; id[end] = piece }
                if (length == charLength) single = true
            }
            if (!single) {
                val end = minOf(start + charLength, size)
                val score = unkScore + here
                if (from[end] < 0 || score > best[end]) { best[end] = score; from[end] = start; id[end] = unkId }
            }
            start += charLength
        }
        // back from the end; consecutive <unk> tokens are fused into one, then looked up as a piece again
        val tokens = ArrayList<Int>()
        var end = size
        var unkEnd = -1
        while (end > 0) {
            val begin = from[end]
            if (id[end] == unkId) {
                if (unkEnd < 0) unkEnd = end
            } else {
                if (unkEnd >= 0) { unknown(word, end, unkEnd, tokens); unkEnd = -1 }
                tokens.add(id[end])
            }
            end = begin
        }
        if (unkEnd >= 0) unknown(word, 0, unkEnd, tokens)
        for (i in tokens.indices.reversed()) out.add(tokens[i])
    }

    /** A fused run of unknown text (bytes from..to): its piece if it is one, else its byte tokens, else <unk>. Ids are
     * added in reverse, as the caller reverses the list. */
    private fun unknown(word: ByteArray, from: Int, to: Int, reversed: MutableList<Int>) {
        pieces.find(word, from, to)?.let { reversed.add(it); return }
        if (byteFallback) {
            val bytes = (from until to).map { pieces.find("<0x%02X>".format(word[it].toInt() and 0xFF).toByteArray(Charsets.UTF_8)) }
            if (bytes.all { it != null }) { bytes.reversed().forEach { reversed.add(it!!) }; return }
        }
        reversed.add(unkId)
    }

    companion object {
        private const val UNK_PENALTY = 10.0  // tokenizers' K_UNK_PENALTY

        private fun utf8Length(lead: Byte): Int {
            val b = lead.toInt() and 0xFF
            return when { b < 0x80 -> 1; b < 0xE0 -> 2; b < 0xF0 -> 3; else -> 4 }
        }

        /** From a parsed tokenizer.json (see Tokenizer.fromJson); maxLength comes from the manifest. */
        internal fun fromJson(root: Map<String, Any?>, maxLength: Int): UnigramTokenizer {
            val model = root["model"].asObject("model")
            val entries = model["vocab"].asList("model.vocab")
            val scores = DoubleArray(entries.size)
            val texts = ArrayList<String>(entries.size)
            for ((i, entry) in entries.withIndex()) {
                val pair = entry.asList("model.vocab[$i]")
                require(pair.size == 2 && pair[0] is String && pair[1] is Double) { "model.vocab[$i]: expected [piece, score]" }
                texts.add(pair[0] as String)
                scores[i] = pair[1] as Double
            }
            val pieces = Pieces(texts)
            // tokenizers loads a Unigram without one but fails on the first unknown character; refused here instead
            val unkId = model["unk_id"]?.asInt("model.unk_id") ?: throw IllegalArgumentException("Unigram: model.unk_id is missing")
            require(unkId in texts.indices) { "model.unk_id $unkId is not in the vocabulary of ${texts.size}" }
            return UnigramTokenizer(
                pieces = pieces,
                scores = scores,
                unkId = unkId,
                byteFallback = model["byte_fallback"] as? Boolean ?: false,
                normalizer = Normalizer.of(root["normalizer"]?.asObject("normalizer")),
                metaspace = Metaspace.of(root["pre_tokenizer"]?.asObject("pre_tokenizer")),
                addedTokens = AddedTokens.of(root),
                template = Template.of(root["post_processor"]?.asObject("post_processor")) {
                    pieces.find(it.toByteArray(Charsets.UTF_8))
                },
                maxLength = maxLength,
            )
        }
    }
}

/**
 * The Metaspace pre-tokenizer: spaces become the replacement (▁), which is put before the text (always; or for
 * "first" only before the text's start), and each replacement begins a word (split, MergedWithNext). After
 * WhitespaceSplit (a Sequence of the two, as transformers writes XLM-R's tokenizer.json when it saves one), the text
 * is first cut at every run of Unicode White_Space, which is dropped, and each piece is a text of its own.
 */
internal class Metaspace(
    private val replacement: String,
    private val prepend: String,
    private val split: Boolean,
    private val whitespaceSplit: Boolean = false,
) {
    fun words(text: String, atStart: Boolean): List<String> =
        if (whitespaceSplit) whitespaceSplit(text).flatMap { metaspace(it, atStart) } else metaspace(text, atStart)

    private fun metaspace(text: String, atStart: Boolean): List<String> {
        var s = text.replace(" ", replacement)
        if ((prepend == "always" || prepend == "first" && atStart) && !s.startsWith(replacement)) s = replacement + s
        if (!split) return listOf(s)
        val words = ArrayList<String>()
        var begin = 0
        var at = s.indexOf(replacement, 1)
        while (at >= 0) {
            words.add(s.substring(begin, at))
            begin = at
            at = s.indexOf(replacement, at + replacement.length)
        }
        words.add(s.substring(begin))
        return words.filter { it.isNotEmpty() }
    }

    companion object {
        private fun whitespaceSplit(text: String): List<String> {
            val words = ArrayList<String>()
            var begin = -1
            for (i in text.indices) {
                if (WordPieceTokenizer.isWhitespace(text[i].code)) {  // Rust's char::is_whitespace, as WhitespaceSplit
                    if (begin >= 0) { words.add(text.substring(begin, i)); begin = -1 }
                } else if (begin < 0) begin = i
            }
            if (begin >= 0) words.add(text.substring(begin))
            return words
        }

        /** A Metaspace pre-tokenizer, alone or after WhitespaceSplit, or none; another type is refused by name. */
        fun of(spec: Map<String, Any?>?): Metaspace? {
            if (spec == null) return null
            if (spec["type"] == "Sequence") {
                val steps = spec["pretokenizers"].asList("pre_tokenizer.pretokenizers").mapIndexed { i, step ->
                    step.asObject("pre_tokenizer.pretokenizers[$i]")
                }
                require(steps.size == 2 && steps[0]["type"] == "WhitespaceSplit" && steps[1]["type"] == "Metaspace") {
                    "pre-tokenizer Sequence ${steps.map { it["type"] }}: only [WhitespaceSplit, Metaspace] is supported with Unigram"
                }
                val metaspace = of(steps[1])!!
                require(metaspace.prepend != "first") { "Metaspace: prepend_scheme first after WhitespaceSplit is not supported" }
                return Metaspace(metaspace.replacement, metaspace.prepend, metaspace.split, whitespaceSplit = true)
            }
            require(spec["type"] == "Metaspace") { "pre-tokenizer ${spec["type"]}: only Metaspace is supported with Unigram" }
            val replacement = spec["replacement"] as? String ?: "\u2581"
            require(replacement.codePointCount(0, replacement.length) == 1) { "Metaspace: replacement should be one character" }
            // the older add_prefix_space: false means never; prepend_scheme defaults to always
            val prepend = if (spec["add_prefix_space"] == false) "never" else spec["prepend_scheme"] as? String ?: "always"
            require(prepend in listOf("always", "first", "never")) { "Metaspace: prepend_scheme $prepend is not supported" }
            return Metaspace(replacement, prepend, spec["split"] as? Boolean ?: true)
        }
    }
}

/**
 * The vocabulary's pieces as UTF-8, sorted bytewise, for the trie's common-prefix search without a trie: the pieces
 * sharing a prefix are a range of the sorted list, narrowed one byte at a time.
 */
internal class Pieces(texts: List<String>) {
    private val bytes: Array<ByteArray> = Array(texts.size) { texts[it].toByteArray(Charsets.UTF_8) }
    // by bytes; equal pieces with the higher id first, as `tokenizers` keeps the later id of a repeated piece
    private val order: IntArray = bytes.indices.sortedWith { a, b ->
        java.util.Arrays.compareUnsigned(bytes[a], bytes[b]).takeIf { it != 0 } ?: b.compareTo(a)
    }.toIntArray()

    /** Every piece that starts word[start..], shortest first: (id, length in bytes). */
    fun prefixes(word: ByteArray, start: Int, each: (Int, Int) -> Unit) {
        var lo = 0
        var hi = order.size
        var k = 0
        while (start + k < word.size) {
            val c = word[start + k].toInt() and 0xFF
            val newLo = bound(lo, hi, k, c)
            hi = bound(newLo, hi, k, c + 1)
            lo = newLo
            if (lo == hi) return
            k++
            if (bytes[order[lo]].size == k) each(order[lo], k)
        }
    }

    /** The id of the piece whose bytes are word[from until to], or null. */
    fun find(word: ByteArray, from: Int = 0, to: Int = word.size): Int? {
        var lo = 0
        var hi = order.size
        for (k in 0 until to - from) {
            val c = word[from + k].toInt() and 0xFF
            val newLo = bound(lo, hi, k, c)
            hi = bound(newLo, hi, k, c + 1)
            lo = newLo
            if (lo == hi) return null
        }
        return if (lo < hi && bytes[order[lo]].size == to - from) order[lo] else null
    }

    /** In order[lo until hi] (pieces sharing k bytes), the first whose byte k is >= c (a piece of k bytes sorts first). */
    private fun bound(lo: Int, hi: Int, k: Int, c: Int): Int {
        var l = lo
        var h = hi
        while (l < h) {
            val mid = (l + h) ushr 1
            val piece = bytes[order[mid]]
            val key = if (piece.size > k) piece[k].toInt() and 0xFF else -1
            if (key < c) l = mid + 1 else h = mid
        }
        return l
    }
}
