package dev.embedlite.core

/** TFLite signatures have static shapes: `b{batch}_s{seq}`; texts are grouped by length and `batchFor` picks each
 * call's batch at that length. */
data class Bucket(val batch: Int, val seq: Int) {
    val signature: String get() = "b${batch}_s$seq"

    companion object {
        fun parse(signature: String): Bucket? {
            val m = Regex("b(\\d+)_s(\\d+)").matchEntire(signature) ?: return null
            return Bucket(m.groupValues[1].toInt(), m.groupValues[2].toInt())
        }

        /**
         * The next call at one sequence length with `rows` texts left: (signature batch, texts it takes), as the
         * Python runtime chooses: a padding row costs what a text costs, so a batch less than 3/4 full gives way to
         * calls of a smaller one. `batches`: the batch sizes that length has, ascending.
         */
        fun batchFor(batches: List<Int>, rows: Int): Pair<Int, Int> {
            val fit = batches.firstOrNull { it >= rows } ?: batches.last()
            if (rows < fit && rows < 0.75 * fit) {
                val smaller = batches.lastOrNull { it <= rows } ?: batches.first()
                return smaller to minOf(rows, smaller)
            }
            return fit to minOf(rows, fit)
        }
    }
}

/** Token id rows padded to one width, with the attention mask. */
class PaddedBatch(val inputIds: Array<IntArray>, val attentionMask: Array<IntArray>) {
    companion object {
        fun of(rows: List<IntArray>, padId: Int, width: Int, batch: Int = rows.size): PaddedBatch {
            require(rows.size <= batch) { "${rows.size} rows for a batch of $batch" }
            val ids = Array(batch) { IntArray(width) { padId } }
            val mask = Array(batch) { IntArray(width) }
            rows.forEachIndexed { i, row ->
                require(row.size <= width) { "row $i has ${row.size} tokens, the bucket holds $width" }
                row.copyInto(ids[i])
                mask[i].fill(1, 0, row.size)
            }
            for (i in rows.size until batch) { ids[i][0] = padId; mask[i][0] = 1 }  // filler rows stay valid
            return PaddedBatch(ids, mask)
        }
    }
}
