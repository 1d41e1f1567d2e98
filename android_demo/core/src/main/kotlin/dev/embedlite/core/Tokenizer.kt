package dev.embedlite.core

/**
 * The tokenizer of an artifact's `tokenizer.json`, giving the same ids as Hugging Face `tokenizers` with the
 * runtime's settings: the post-processor's special tokens, truncation to the model's max length.
 */
interface Tokenizer {
    /** The id that pads a batch (the model ignores it through the attention mask). */
    val padId: Int
    val maxLength: Int

    /** Token ids with the template's special tokens, truncated to maxLength. */
    fun encode(text: String): IntArray

    companion object {
        /** WordPiece (the BERT family), BPE with byte fallback (Gemma) or Unigram (SentencePiece: XLM-R, multilingual
         * E5), as the file's model type says. */
        fun fromJson(json: String, maxLength: Int): Tokenizer {
            val root = Json.parse(json).asObject("tokenizer.json")
            return when (val type = root["model"].asObject("model")["type"]) {
                "WordPiece" -> WordPieceTokenizer.fromJson(root, maxLength)
                "BPE" -> BpeTokenizer.fromJson(root, maxLength)
                "Unigram" -> UnigramTokenizer.fromJson(root, maxLength)
                else -> throw IllegalArgumentException("tokenizer model $type: WordPiece, BPE and Unigram are supported")
            }
        }

        /** As the Python runtime picks it: [PAD], else <pad>, else 0. */
        internal fun padId(idOf: (String) -> Int?): Int = idOf("[PAD]") ?: idOf("<pad>") ?: 0
    }
}

/**
 * What every tokenizer.json shares: the added tokens written in the text are split out first, the model tokenises
 * the text between them, the template adds its special tokens and truncation leaves room for them.
 */
abstract class TemplateTokenizer internal constructor(
    private val addedTokens: AddedTokens,
    private val template: Template,
    final override val maxLength: Int,
    idOf: (String) -> Int?,
) : Tokenizer {
    final override val padId: Int = Tokenizer.padId { addedTokens.id(it) ?: idOf(it) }

    final override fun encode(text: String): IntArray {
        val ids = ArrayList<Int>()
        addedTokens.split(text).forEachIndexed { i, (piece, addedId) ->
            if (addedId != null) ids.add(addedId) else encodeText(piece, atStart = i == 0, ids)
        }
        return template.apply(ids, maxLength)
    }

    /** The ids of text that holds no added token (atStart: it begins the text): normalise, pre-tokenise, run the
     * model. */
    protected abstract fun encodeText(text: String, atStart: Boolean, out: MutableList<Int>)
}

/**
 * The added tokens of a tokenizer.json (special or not) written in the text: split out before normalisation,
 * leftmost match first and the longest of those, as `tokenizers` does.
 */
internal class AddedTokens(tokens: List<Pair<String, Int>>) {
    private val byFirstChar: Map<Char, List<Pair<String, Int>>> =
        tokens.filter { it.first.isNotEmpty() }.groupBy { it.first[0] }
            .mapValues { (_, group) -> group.sortedByDescending { it.first.length } }
    private val ids = tokens.toMap()

    fun id(content: String): Int? = ids[content]

    /** The text as pieces: (added token, its id) or (plain text, null). */
    fun split(text: String): List<Pair<String, Int?>> {
        if (byFirstChar.isEmpty()) return listOf(text to null)
        val out = ArrayList<Pair<String, Int?>>()
        var start = 0
        var i = 0
        while (i < text.length) {
            val match = byFirstChar[text[i]]?.firstOrNull { text.startsWith(it.first, i) }
            if (match == null) { i++; continue }
            if (i > start) out.add(text.substring(start, i) to null)
            out.add(match.first to match.second)
            i += match.first.length
            start = i
        }
        if (start < text.length) out.add(text.substring(start) to null)
        return out
    }

    companion object {
        fun of(root: Map<String, Any?>): AddedTokens =
            AddedTokens((root["added_tokens"] ?: emptyList<Any?>()).asList("added_tokens").map {
                val t = it.asObject("added token")
                (t["content"] as String) to t["id"].asInt("added token id")
            })
    }
}

/** The post-processor's special tokens before and after the text; truncation keeps room for them, as HF does. */
internal class Template(private val head: List<Int>, private val tail: List<Int>) {
    fun apply(ids: List<Int>, maxLength: Int): IntArray {
        val room = maxOf(0, maxLength - head.size - tail.size)
        return (head + ids.take(room) + tail).toIntArray()
    }

    companion object {
        /** BertProcessing, TemplateProcessing (single sequence) or none; idOf resolves a token without listed ids. */
        fun of(post: Map<String, Any?>?, idOf: (String) -> Int?): Template {
            fun id(token: Any?) = idOf(token as String) ?: throw IllegalArgumentException("$token not in vocab")
            return when (post?.get("type")) {
                null -> Template(emptyList(), emptyList())
                "BertProcessing" -> Template(listOf(post["cls"].asList("cls")[1].asInt("cls")),
                    listOf(post["sep"].asList("sep")[1].asInt("sep")))
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
                            ?.map { it.asInt("id") } ?: listOf(id(token))
                        (if (seen) tail else head).addAll(ids)
                    }
                    Template(head, tail)
                }
                else -> throw IllegalArgumentException("post-processor ${post["type"]} is not supported")
            }
        }
    }
}
