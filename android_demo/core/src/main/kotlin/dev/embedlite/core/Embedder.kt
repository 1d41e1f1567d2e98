package dev.embedlite.core

import java.io.Closeable

/** Runs one padded batch through the model and returns one embedding per row; the app implements it with LiteRT. */
interface InferenceBackend : Closeable {
    /** What runs the model, for the UI: "LiteRT GPU delegate", "LiteRT CPU (XNNPACK, 4 threads)", ... */
    val device: String
    val buckets: List<Bucket>
    fun run(bucket: Bucket, batch: PaddedBatch): Array<FloatArray>
}

/**
 * Texts -> vectors as the Python Embedder makes them: task prompt, tokenisation, the smallest signature that fits,
 * Matryoshka truncation. Any text is valid, "" included; no texts give no vectors.
 */
class Embedder(val manifest: Manifest, val tokenizer: Tokenizer, private val backend: InferenceBackend) :
    Closeable {
    /** An artifact from Artifact.load (checksums verified) on a backend. */
    constructor(artifact: Artifact, backend: InferenceBackend) : this(artifact.manifest, artifact.tokenizer, backend)

    /** What runs the model (the backend's device). */
    val device: String get() = backend.device

    /** The dims embed can return, largest first (Matryoshka truncation). */
    val dims: List<Int> get() = manifest.dims

    /** Task names with a prompt in the manifest, for embed(task = name). */
    val tasks: List<String> get() = manifest.prompts.keys.toList()

    /** What embedQuery puts before each text: the "query" prompt, else the default task's, else "". */
    val queryPrompt: String get() = manifest.queryPrompt

    /** What embedDocuments puts before each text: the "document" prompt, else the default task's, else "". */
    val documentPrompt: String get() = manifest.documentPrompt

    /** Embed with the prompt of `task` (a name from tasks; null: the default task, if any). */
    fun embed(texts: List<String>, task: String? = null, dim: Int? = null): List<FloatArray> {
        val prompt = manifest.prompt(task)
        return run(texts.map { prompt + it }, dim)
    }

    /** Search queries, with the model's query prompt where it has one (EmbeddingGemma), else as embed does. */
    fun embedQuery(texts: List<String>, dim: Int? = null): List<FloatArray> {
        val prompt = queryPrompt
        return run(texts.map { prompt + it }, dim)
    }

    /**
     * Documents to search, with the model's document prompt where it has one; titles (one per text, null or ""
     * for none) fill its title slot ("title: none | text: " becomes "title: {title} | text: "), or go before the
     * text where the prompt has no slot.
     */
    fun embedDocuments(texts: List<String>, titles: List<String?>? = null, dim: Int? = null): List<FloatArray> {
        require(titles == null || titles.size == texts.size) { "${titles?.size} titles for ${texts.size} texts" }
        val prompt = documentPrompt
        return run(texts.mapIndexed { i, text -> withPrompt(prompt, text, titles?.get(i)) }, dim)
    }

    private fun run(prompted: List<String>, dim: Int?): List<FloatArray> {
        require(dim == null || dim in dims) { "dim $dim is not supported by ${manifest.name}; supported dims: ${dims.joinToString()}" }
        val width = manifest.outputDim ?: manifest.dim
        val ids = prompted.map { tokenizer.encode(it) }
        val out = arrayOfNulls<FloatArray>(prompted.size)
        // A call holds texts of one run length (the smallest signature length that holds the text), as in Python:
        // a text padded to another length can get other bits (EmbeddingGemma int8 at 48 vs 64 tokens: cosine
        // 0.9976 on XNNPACK), so a text's vector must not depend on the texts beside it.
        val seqs = backend.buckets.map { it.seq }.distinct().sorted()
        val groups = ids.indices.groupBy { i ->
            seqs.firstOrNull { it >= ids[i].size }
                ?: throw IllegalStateException("no signature holds a text of ${ids[i].size} tokens")
        }
        for ((seq, group) in groups.toSortedMap()) {
            val batches = backend.buckets.filter { it.seq == seq }.map { it.batch }.sorted()
            var start = 0
            while (start < group.size) {
                val (batch, take) = Bucket.batchFor(batches, group.size - start)
                runChunk(group.subList(start, start + take), ids, Bucket(batch, seq), width, dim, out)
                start += take
            }
        }
        return out.map { it!! }
    }

    /** One runtime call: the texts `chunk` (indices into ids) in `bucket`, their vectors into `out`. */
    private fun runChunk(chunk: List<Int>, ids: List<IntArray>, bucket: Bucket, width: Int, dim: Int?, out: Array<FloatArray?>) {
        val rows = chunk.map { ids[it] }
        val vectors = backend.run(bucket, PaddedBatch.of(rows, tokenizer.padId, bucket.seq, bucket.batch))
        check(vectors.size >= rows.size && vectors.all { it.size == width }) {
            "the model returned ${vectors.size} rows of ${vectors.firstOrNull()?.size} values; expected ${bucket.batch} of $width"
        }
        chunk.forEachIndexed { j, i -> out[i] = truncate(vectors[j], dim ?: width) }
    }

    /**
     * The first dim values of a full-width vector, re-normalised when the model normalises and dim is not its full
     * dim (as Python's Embedder.truncate): a model without normalisation keeps its raw prefix.
     */
    fun truncate(vector: FloatArray, dim: Int): FloatArray =
        Vectors.truncate(vector, dim, normalize = dim != manifest.dim && manifest.normalize)

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
