package dev.embedlite.demo

import android.content.Context
import dev.embedlite.core.Artifact
import dev.embedlite.core.Embedder
import dev.embedlite.core.Quantization
import dev.embedlite.core.SearchResult
import dev.embedlite.core.VectorStore
import java.io.Closeable
import java.io.File
import java.util.UUID

/** The user's notes: embedded on save, kept in an int8 store in the app's files, searched by meaning. */
class NotesRepository private constructor(private val embedder: Embedder, private val store: VectorStore) : Closeable {
    val status: String
        get() = with(embedder.manifest) { "$name $precision · ${embedder.device} · ${store.dim}-d · ${store.count} notes" }

    /** Call off the main thread: embedding takes milliseconds to tens of milliseconds. */
    fun add(text: String): String {
        val id = UUID.randomUUID().toString()
        store.upsert(id, embedder.embedDocuments(listOf(text), dim = DIM)[0], text)
        return id
    }

    fun search(query: String, k: Int = 10): List<SearchResult> =
        if (store.count == 0) emptyList() else store.search(embedder.embedQuery(listOf(query), dim = DIM)[0], k)

    override fun close() {
        embedder.close()
        store.close()
    }

    companion object {
        const val ASSETS = "embedlite"  // app/src/main/assets/embedlite: the bundle of `embedlite export --target android`
        private val DIM: Int? = null  // a Matryoshka dim from the manifest (e.g. 256) makes the store smaller

        fun open(context: Context): NotesRepository {
            // checksums verified, as the Python runtime does; the tokenizer is WordPiece or Gemma's BPE
            val artifact = Artifact.load("assets/$ASSETS") { name -> context.assets.open("$ASSETS/$name") }
            val manifest = artifact.manifest
            require(manifest.format == "tflite") { "the app runs TFLite artifacts; the bundled one is ${manifest.format}" }
            val embedder = Embedder(artifact, LiteRtBackend.create(context, manifest, ASSETS))
            val dim = DIM ?: manifest.dims.first()
            val file = File(context.filesDir, "notes-${manifest.name}-$dim.store")
            return NotesRepository(embedder, VectorStore(file, dim, Quantization.INT8))
        }
    }
}
