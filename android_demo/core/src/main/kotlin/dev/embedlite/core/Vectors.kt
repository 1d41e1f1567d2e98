package dev.embedlite.core

import kotlin.math.abs
import kotlin.math.max
import kotlin.math.sqrt

/** Vector maths as the Python runtime does it: Matryoshka truncation, normalisation, int8 codes. */
object Vectors {
    /** The first `dim` values, re-normalised to unit length when `normalize` (Matryoshka truncation). */
    fun truncate(vector: FloatArray, dim: Int, normalize: Boolean = true): FloatArray {
        require(dim in 1..vector.size) { "dim $dim: the vector has ${vector.size} values" }
        val head = vector.copyOf(dim)
        return if (normalize) normalize(head) else head
    }

    /** A unit-length copy; a zero vector has no direction and is refused. */
    fun normalize(vector: FloatArray): FloatArray {
        var sum = 0.0
        for (x in vector) sum += x.toDouble() * x
        val norm = sqrt(sum).toFloat()
        require(norm > 0f) { "a zero vector has no direction" }
        return FloatArray(vector.size) { vector[it] / norm }
    }

    fun dot(a: FloatArray, b: FloatArray): Float {
        require(a.size == b.size) { "dims differ: ${a.size} and ${b.size}" }
        var sum = 0.0
        for (i in a.indices) sum += a[i].toDouble() * b[i]
        return sum.toFloat()
    }

    /** int8 codes with one float scale per vector: scale = max|x| / 127, code = round-half-even(x / scale). */
    fun quantizeInt8(vector: FloatArray): Pair<Float, ByteArray> {
        var maxAbs = 0f
        for (x in vector) maxAbs = max(maxAbs, abs(x))
        val scale = (max(maxAbs.toDouble(), 1e-12) / 127.0).toFloat()
        return scale to ByteArray(vector.size) { Math.rint((vector[it] / scale).toDouble()).toInt().toByte() }
    }

    fun dequantizeInt8(scale: Float, codes: ByteArray): FloatArray = FloatArray(codes.size) { codes[it] * scale }

    fun checkFinite(vector: FloatArray) {
        val bad = vector.indexOfFirst { it.isNaN() || it.isInfinite() }
        require(bad < 0) { "the vector holds NaN or inf at index $bad" }
    }
}
