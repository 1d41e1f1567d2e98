package dev.embedlite.core

import java.io.ByteArrayOutputStream
import java.io.Closeable
import java.io.DataInputStream
import java.io.DataOutputStream
import java.io.EOFException
import java.io.File
import java.io.RandomAccessFile
import java.util.zip.CRC32

enum class Quantization { FLOAT32, INT8 }

/** One search result: the record's id, its cosine similarity to the query, its text. */
data class SearchResult(val id: String, val score: Float, val text: String?)

/**
 * A persisted brute-force vector store for an app's notes: cosine similarity over unit vectors kept as float32
 * or int8 codes (one scale per vector, as the Python store). The file is an append-only log of checksummed
 * records, synced on every write: a write that returned survives a crash, and a torn last record is dropped
 * when the file is opened again. The log is compacted when most of it is dead.
 */
class VectorStore(val file: File, val dim: Int, val quantization: Quantization = Quantization.FLOAT32) : Closeable {
    private class Entry(val text: String?, val vector: FloatArray)

    private val entries = LinkedHashMap<String, Entry>()
    private var records = 0
    private var log: RandomAccessFile

    init {
        require(dim > 0) { "dim must be positive, got $dim" }
        val fresh = !file.exists() || file.length() == 0L
        log = RandomAccessFile(file, "rw")
        if (fresh) writeHeader(log) else load()
    }

    /** How many records the store holds. */
    val count: Int get() = entries.size

    /** Insert or replace one record; returns once it is on disk. */
    @Synchronized
    fun upsert(id: String, vector: FloatArray, text: String? = null) {
        require(id.isNotEmpty()) { "ids are non-empty strings" }
        require(vector.size == dim) { "vector has dim ${vector.size}, this store holds dim $dim" }
        Vectors.checkFinite(vector)
        val stored = encodeVector(Vectors.normalize(vector))
        append(record(PUT, id, text, stored))
        entries[id] = Entry(text, decodeVector(stored))  // a replaced record keeps its place, as in the Python store
        compactIfMostlyDead()
    }

    /** Remove a record; false when the id was not there. */
    @Synchronized
    fun delete(id: String): Boolean {
        if (id !in entries) return false
        append(record(DELETE, id, null, null))
        entries.remove(id)
        compactIfMostlyDead()
        return true
    }

    fun text(id: String): String? = entries[id]?.text

    /** Ids in store order (first insert first). */
    val ids: List<String> get() = entries.keys.toList()

    /** The k records most similar to `query` (cosine), best first; equal scores rank the older record first (an
     *  upsert keeps a record's age, a delete and put makes it new), as the Python store ranks them. */
    @Synchronized
    fun search(query: FloatArray, k: Int = 10): List<SearchResult> {
        require(k > 0) { "k must be positive, got $k" }
        require(query.size == dim) { "query has dim ${query.size}, this store holds dim $dim" }
        Vectors.checkFinite(query)
        val q = Vectors.normalize(query)
        return entries.entries.map { (id, e) -> SearchResult(id, Vectors.dot(e.vector, q), e.text) }
            .sortedByDescending { it.score }.take(k)
    }

    override fun close() = log.close()

    // -- the file -------------------------------------------------------------------------------------
    private fun writeHeader(out: RandomAccessFile) {
        out.setLength(0)
        out.write(MAGIC)
        out.writeInt(dim)
        out.writeByte(quantization.ordinal)
        out.fd.sync()
    }

    private fun load() {
        val magic = ByteArray(MAGIC.size)
        log.seek(0)
        val header = runCatching { log.readFully(magic); log.readInt() to log.readByte().toInt() }.getOrNull()
        require(header != null && magic.contentEquals(MAGIC)) { "${file.path} is not an embedlite note store" }
        val (fileDim, fileQuant) = header
        require(fileDim == dim && fileQuant == quantization.ordinal) {
            "${file.path} holds dim $fileDim ${Quantization.entries.getOrNull(fileQuant)}; opened as dim $dim $quantization"
        }
        var good = log.filePointer
        while (true) {
            val payload = try {
                val length = log.readInt()
                val crc = log.readInt()
                if (length < 0 || length > log.length() - log.filePointer) break
                ByteArray(length).also { log.readFully(it) }.takeIf { checksum(it) == crc } ?: break
            } catch (_: EOFException) {
                break
            }
            apply(payload)
            records++
            good = log.filePointer
        }
        if (good < log.length()) log.setLength(good)  // a torn last write: drop it so appends stay readable
    }

    private fun apply(payload: ByteArray) {
        val input = DataInputStream(payload.inputStream())
        val op = input.readByte().toInt()
        val id = readString(input)!!
        if (op == DELETE) { entries.remove(id); return }
        val text = readString(input)
        entries[id] = Entry(text, decodeVector(input.readBytes()))
    }

    private fun append(payload: ByteArray) {
        log.seek(log.length())
        log.write(frame(payload))
        log.fd.sync()
        records++
    }

    private fun compactIfMostlyDead() {
        if (records < 64 || records < 2 * entries.size) return
        val tmp = File(file.path + ".tmp")
        RandomAccessFile(tmp, "rw").use { out ->
            writeHeader(out)
            for ((id, e) in entries) out.write(frame(record(PUT, id, e.text, encodeVector(e.vector))))
            out.fd.sync()
        }
        log.close()
        check(tmp.renameTo(file)) { "could not replace ${file.path} with its compacted copy" }
        log = RandomAccessFile(file, "rw")
        records = entries.size
    }

    private fun frame(payload: ByteArray): ByteArray {
        val bytes = ByteArrayOutputStream(payload.size + 8)
        DataOutputStream(bytes).apply { writeInt(payload.size); writeInt(checksum(payload)); write(payload) }
        return bytes.toByteArray()
    }

    private fun record(op: Int, id: String, text: String?, vector: ByteArray?): ByteArray {
        val bytes = ByteArrayOutputStream()
        DataOutputStream(bytes).apply {
            writeByte(op)
            writeString(this, id)
            if (op == PUT) { writeString(this, text); write(vector!!) }
        }
        return bytes.toByteArray()
    }

    private fun encodeVector(v: FloatArray): ByteArray {
        val bytes = ByteArrayOutputStream()
        DataOutputStream(bytes).apply {
            when (quantization) {
                Quantization.FLOAT32 -> v.forEach { writeFloat(it) }
                Quantization.INT8 -> Vectors.quantizeInt8(v).let { (scale, codes) -> writeFloat(scale); write(codes) }
            }
        }
        return bytes.toByteArray()
    }

    /** The vector search scores against: float32 as stored, or int8 codes times their scale. */
    private fun decodeVector(bytes: ByteArray): FloatArray {
        val input = DataInputStream(bytes.inputStream())
        return when (quantization) {
            Quantization.FLOAT32 -> FloatArray(dim) { input.readFloat() }
            Quantization.INT8 -> { val scale = input.readFloat(); Vectors.dequantizeInt8(scale, ByteArray(dim).also { input.readFully(it) }) }
        }
    }

    private companion object {
        val MAGIC = "EMBEDLITE-NOTES 1\n".toByteArray()
        const val PUT = 1
        const val DELETE = 2

        fun checksum(bytes: ByteArray): Int = CRC32().apply { update(bytes) }.value.toInt()

        fun writeString(out: DataOutputStream, s: String?) {
            if (s == null) { out.writeInt(-1); return }
            val b = s.toByteArray(Charsets.UTF_8)
            out.writeInt(b.size)
            out.write(b)
        }

        fun readString(input: DataInputStream): String? {
            val n = input.readInt()
            return if (n < 0) null else String(ByteArray(n).also { input.readFully(it) }, Charsets.UTF_8)
        }
    }
}
