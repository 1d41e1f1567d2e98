package dev.embedlite.core

import java.io.Closeable

/** Runs one padded batch through the model and returns one embedding per row; the app implements it with LiteRT. */
interface InferenceBackend : Closeable {
    /** What runs the model, for the UI: "LiteRT GPU delegate", "LiteRT CPU (XNNPACK, 4 threads)", ... */
    val description: String
    val buckets: List<Bucket>
    fun run(bucket: Bucket, batch: PaddedBatch): Array<FloatArray>
}

/**
 * Texts -> unit vectors as the Python Embedder makes them: task prompt, tokenisation, the smallest signature that
 * fits, Matryoshka truncation. Any text is valid, "" included; no texts give no vectors.
 */
class Embedder(val manifest: Manifest, val tokenizer: Tokenizer, private val backend: InferenceBackend) :
    Closeable {
    val device: String get() = backend.description

    /** Embed with the prompt of `task` (a key of manifest.prompts; null: the default task, if any). */
    fun embed(texts: List<String>, task: String? = null, dim: Int? = null): List<FloatArray> {
        val prompt = manifest.prompt(task)
        return run(texts.map { prompt + it }, dim)
    }

    /** Search queries, with the model's query prompt where it has one (EmbeddingGemma), see Manifest.queryPrompt. */
    fun embedQuery(texts: List<String>, dim: Int? = null): List<FloatArray> {
        val prompt = manifest.queryPrompt
        return run(texts.map { prompt + it }, dim)
    }

    /**
     * Documents to search, with the model's document prompt where it has one; titles (one per text, null for none)
     * fill its title slot ("title: none | text: " becomes "title: {title} | text: ").
     */
    fun embedDocuments(texts: List<String>, titles: List<String?>? = null, dim: Int? = null): List<FloatArray> {
        require(titles == null || titles.size == texts.size) { "${titles?.size} titles for ${texts.size} texts" }
        val prompt = manifest.documentPrompt
        return run(texts.mapIndexed { i, text -> withPrompt(prompt, text, titles?.get(i)) }, dim)
    }

    private fun run(prompted: List<String>, dim: Int?): List<FloatArray> {
        require(dim == null || dim in manifest.dims) { "dim $dim: this model supports ${manifest.dims}" }
        val ids = prompted.map { tokenizer.encode(it) }
        val maxBatch = backend.buckets.maxOf { it.batch }
        val out = arrayOfNulls<FloatArray>(prompted.size)
        // similar lengths share a batch, so little compute goes to padding
        for (chunk in ids.indices.sortedBy { ids[it].size }.chunked(maxBatch)) {
            val rows = chunk.map { ids[it] }
            val bucket = Bucket.choose(backend.buckets, rows.size, rows.maxOf { it.size })
                ?: throw IllegalStateException("no signature holds ${rows.size} x ${rows.maxOf { it.size }} tokens")
            val vectors = backend.run(bucket, PaddedBatch.of(rows, tokenizer.padId, bucket.seq, bucket.batch))
            chunk.forEachIndexed { j, i -> out[i] = if (dim == null) vectors[j] else Vectors.truncate(vectors[j], dim) }
        }
        return out.map { it!! }
    }

    override fun close() = backend.close()

    companion object {
        /** EmbeddingGemma's document prompt is "title: none | text: ". */
        const val TITLE_SLOT = "title: none"

        /** The string the model reads: prompt + text, a title in the prompt's title slot or else before the text. */
        fun withPrompt(prompt: String, text: String, title: String? = null): String = when {
            title.isNullOrEmpty() -> prompt + text
            TITLE_SLOT in prompt -> prompt.replaceFirst(TITLE_SLOT, "title: $title") + text
            else -> prompt + "$title $text".trim()
        }
    }
}
