package dev.embedlite.core

import java.util.PriorityQueue

/**
 * A byte-pair-encoding `tokenizer.json` with byte fallback, such as Gemma 3's (Replace " " -> "▁" normaliser,
 * Split pre-tokenizer, `<bos> text <eos>` template), written to give the same ids as Hugging Face `tokenizers`:
 * merges applied lowest rank first (leftmost among equal ranks), characters missing from the vocabulary as their
 * UTF-8 bytes (`<0xE2>` ...), truncation keeping the template's special tokens.
 */
class BpeTokenizer private constructor(
    private val vocab: Map<String, Int>,
    private val merges: Map<Long, Long>,  // (left id, right id) -> (rank, merged id), each packed in a Long
    addedTokens: AddedTokens,
    private val normalizer: Normalizer,
    private val splitOn: String?,
    private val unkId: Int?,
    private val fuseUnk: Boolean,
    private val byteFallback: Boolean,
    template: Template,
    maxLength: Int,
) : TemplateTokenizer(addedTokens, template, maxLength, vocab::get) {
    override fun encodeText(text: String, atStart: Boolean, out: MutableList<Int>) {
        for (word in preTokenize(normalizer.normalize(text))) merge(word, out)
    }

    /** Split with behaviour MergedWithPrevious: each delimiter ends the piece before it. */
    private fun preTokenize(text: String): List<String> {
        if (splitOn.isNullOrEmpty()) return listOf(text)
        val words = ArrayList<String>()
        var start = 0
        while (true) {
            val at = text.indexOf(splitOn, start)
            if (at < 0) break
            words.add(text.substring(start, at + splitOn.length))
            start = at + splitOn.length
        }
        if (start < text.length) words.add(text.substring(start))
        return words
    }

    /** One word: its characters (or their bytes) as symbols, then the ranked merges, as tokenizers' Word::merge_all. */
    private fun merge(word: String, out: MutableList<Int>) {
        val symbols = ArrayList<Int>()
        var unk: Int? = null
        word.codePoints().forEach { cp ->
            val char = String(Character.toChars(cp))
            val id = vocab[char]
            if (id != null) {
                unk?.let { symbols.add(it); unk = null }
                symbols.add(id)
                return@forEach
            }
            if (byteFallback) {
                val bytes = char.toByteArray(Charsets.UTF_8).map { vocab["<0x%02X>".format(it.toInt() and 0xFF)] }
                if (bytes.all { it != null }) { bytes.forEach { symbols.add(it!!) }; return@forEach }
            }
            if (unkId != null) {
                if (unk != null && !fuseUnk) symbols.add(unk!!)
                unk = unkId
            }
        }
        unk?.let { symbols.add(it) }

        val n = symbols.size
        val ids = symbols.toIntArray()
        val prev = IntArray(n) { it - 1 }
        val next = IntArray(n) { if (it + 1 < n) it + 1 else -1 }
        val alive = BooleanArray(n) { true }
        // (rank, position, merged id): the lowest rank first, then the leftmost
        val queue = PriorityQueue<LongArray>(compareBy<LongArray>({ it[0] }, { it[1] }))
        fun push(pos: Int) {
            val right = next[pos]
            if (right < 0) return
            val m = merges[pairKey(ids[pos], ids[right])] ?: return
            queue.add(longArrayOf(m ushr 32, pos.toLong(), m and 0xFFFFFFFFL))
        }
        for (i in 0 until n - 1) push(i)
        while (queue.isNotEmpty()) {
            val (_, posL, newIdL) = queue.poll()
            val pos = posL.toInt()
            val right = next[pos]
            if (!alive[pos] || right < 0) continue
            val m = merges[pairKey(ids[pos], ids[right])]
            if (m == null || (m and 0xFFFFFFFFL) != newIdL) continue  // an expired entry: the pair changed
            ids[pos] = newIdL.toInt()
            alive[right] = false
            next[pos] = next[right]
            if (next[right] >= 0) prev[next[right]] = pos
            if (prev[pos] >= 0) push(prev[pos])
            push(pos)
        }
        for (i in 0 until n) if (alive[i]) out.add(ids[i])
    }

    companion object {
        private fun pairKey(left: Int, right: Int): Long = (left.toLong() shl 32) or (right.toLong() and 0xFFFFFFFFL)

        /** From a parsed tokenizer.json (see Tokenizer.fromJson); maxLength comes from the manifest. */
        internal fun fromJson(root: Map<String, Any?>, maxLength: Int): BpeTokenizer {
            val model = root["model"].asObject("model")
            for (key in listOf("continuing_subword_prefix", "end_of_word_suffix", "dropout")) {
                require(model[key] == null) { "BPE with $key is not supported" }
            }
            require(model["ignore_merges"] != true) { "BPE with ignore_merges is not supported" }
            val vocab = HashMap<String, Int>()
            for ((token, id) in model["vocab"].asObject("vocab")) vocab[token] = id.asInt("vocab")
            val merges = HashMap<Long, Long>()
            model["merges"].asList("merges").forEachIndexed { rank, entry ->
                val (left, right) = when (entry) {
                    is String -> entry.split(' ', limit = 2).let { it[0] to it[1] }
                    else -> entry.asList("merge").let { (it[0] as String) to (it[1] as String) }
                }
                val merged = vocab[left + right] ?: throw IllegalArgumentException("merge $left $right: not in vocab")
                val key = pairKey(vocab[left] ?: error("$left not in vocab"), vocab[right] ?: error("$right not in vocab"))
                merges[key] = (rank.toLong() shl 32) or merged.toLong()  // a repeated pair: the later rank wins, as in HF
            }
            return BpeTokenizer(
                vocab = vocab,
                merges = merges,
                addedTokens = AddedTokens.of(root),
                normalizer = Normalizer.of(root["normalizer"]?.asObject("normalizer")),
                splitOn = split(root["pre_tokenizer"]?.asObject("pre_tokenizer")),
                unkId = (model["unk_token"] as String?)?.let { vocab[it] },
                fuseUnk = model["fuse_unk"] as? Boolean ?: false,
                byteFallback = model["byte_fallback"] as? Boolean ?: false,
                template = Template.of(root["post_processor"]?.asObject("post_processor")) { vocab[it] },
                maxLength = maxLength,
            )
        }

        /** A Split pre-tokenizer on a string, merged with the previous piece; none is fine. */
        private fun split(pre: Map<String, Any?>?): String? {
            if (pre == null) return null
            require(pre["type"] == "Split" && pre["behavior"] == "MergedWithPrevious" && pre["invert"] != true) {
                "pre-tokenizer ${pre["type"]} (${pre["behavior"]}): only Split, MergedWithPrevious is supported with BPE"
            }
            return pre["pattern"].asObject("pattern")["String"] as? String
                ?: throw IllegalArgumentException("Split pre-tokenizer: only string patterns are supported")
        }
    }
}
