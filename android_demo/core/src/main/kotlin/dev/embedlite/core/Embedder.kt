package dev.embedlite.core

import java.io.Closeable

/** Runs one padded batch through the model and returns one embedding per row; the app implements it with LiteRT. */
interface InferenceBackend : Closeable {
    /** What runs the model, for the UI: "LiteRT GPU delegate", "LiteRT CPU (XNNPACK, 4 threads)", ... */
    val description: String
    val buckets: List<Bucket>
    fun run(bucket: Bucket, batch: PaddedBatch): Array<FloatArray>
}

/** Texts -> unit vectors: task prompt, tokenisation, the smallest signature that fits, Matryoshka truncation. */
class Embedder(val manifest: Manifest, val tokenizer: WordPieceTokenizer, private val backend: InferenceBackend) :
    Closeable {
    val device: String get() = backend.description

    fun embed(texts: List<String>, task: String? = null, dim: Int? = null): List<FloatArray> {
        require(texts.isNotEmpty()) { "no texts to embed" }
        texts.forEachIndexed { i, t -> require(t.isNotBlank()) { "text $i is empty" } }
        val name = task ?: manifest.defaultTask
        val prompt = if (name == null) "" else manifest.prompts[name]
            ?: throw IllegalArgumentException("unknown task '$name'; this model knows ${manifest.prompts.keys}")
        require(dim == null || dim in manifest.dims) { "dim $dim: this model supports ${manifest.dims}" }
        val ids = texts.map { tokenizer.encode(prompt + it) }
        val maxBatch = backend.buckets.maxOf { it.batch }
        val out = arrayOfNulls<FloatArray>(texts.size)
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
}
