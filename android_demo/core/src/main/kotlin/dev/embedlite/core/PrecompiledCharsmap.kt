package dev.embedlite.core

import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * SentencePiece's normaliser as a tokenizer.json carries it (`Precompiled`, the base64 `precompiled_charsmap`):
 * a double-array trie over UTF-8 bytes whose values point into a blob of NUL-terminated replacements. Applied
 * exactly as `tokenizers` (the spm_precompiled crate) applies it: per grapheme cluster, the whole cluster first when
 * it is under 6 bytes, else (or when the cluster has no entry) character by character; a lookup takes the SHORTEST
 * entry that is a prefix of what it is given, so a short cluster becomes that entry's replacement alone.
 */
internal class PrecompiledCharsmap(charsmap: ByteArray) : Normalizer {
    private val units: IntArray  // the trie's u32 units, as Ints
    private val replacements: ByteArray

    init {
        require(charsmap.size >= 4) { "Precompiled: precompiled_charsmap is ${charsmap.size} bytes, too short for a trie" }
        val buffer = ByteBuffer.wrap(charsmap).order(ByteOrder.LITTLE_ENDIAN)
        val trieBytes = buffer.getInt(0).toLong() and 0xFFFFFFFFL
        require(trieBytes % 4 == 0L && 4 + trieBytes <= charsmap.size && trieBytes > 0) {
            "Precompiled: precompiled_charsmap declares a trie of $trieBytes bytes in ${charsmap.size}"
        }
        units = IntArray((trieBytes / 4).toInt()) { buffer.getInt(4 + 4 * it) }
        replacements = charsmap.copyOfRange(4 + trieBytes.toInt(), charsmap.size)
    }

    override fun normalize(text: String): String {
        val out = StringBuilder(text.length)
        val clusters = GRAPHEME.matcher(text)
        while (clusters.find()) {
            val cluster = text.substring(clusters.start(), clusters.end())
            val bytes = cluster.toByteArray(Charsets.UTF_8)
            if (bytes.size < 6) {
                val whole = transform(bytes)
                if (whole != null) { out.append(whole); continue }
            }
            var i = 0
            while (i < cluster.length) {
                val end = i + Character.charCount(cluster.codePointAt(i))
                val char = cluster.substring(i, end)
                out.append(transform(char.toByteArray(Charsets.UTF_8)) ?: char)
                i = end
            }
        }
        return out.toString()
    }

    /** The replacement of the shortest trie entry that is a prefix of `key` (a NUL byte ends the key), or null. */
    private fun transform(key: ByteArray): String? {
        var node = offset(units[0])
        for (b in key) {
            val c = b.toInt() and 0xFF
            if (c == 0) break
            node = node xor c
            if (node >= units.size) return null  // outside the array: no entry (the crate would panic)
            val unit = units[node]
            if (unit and LABEL_MASK != c) return null
            node = node xor offset(unit)
            if ((unit ushr 8) and 1 == 1) return if (node < units.size) replacement(units[node] and 0x7FFFFFFF) else null
        }
        return null
    }

    private fun replacement(start: Int): String? {
        if (start > replacements.size) return null
        var end = start
        while (end < replacements.size && replacements[end] != 0.toByte()) end++
        return String(replacements, start, end - start, Charsets.UTF_8)
    }

    private companion object {
        /** Extended grapheme clusters (UAX #29), as the unicode-segmentation crate gives them to the crate. */
        val GRAPHEME: java.util.regex.Pattern = java.util.regex.Pattern.compile("\\X")
        const val LABEL_MASK = (1 shl 31) or 0xFF  // the leaf bit 31 makes a unit match no byte

        fun offset(unit: Int): Int = (unit ushr 10) shl ((unit and (1 shl 9)) ushr 6)
    }
}
