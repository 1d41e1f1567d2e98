package dev.embedlite.core

/** manifest.json of an embedlite artifact: what the model outputs and how to feed it. */
data class Manifest(
    val name: String,
    val format: String,
    val precision: String,
    val pooling: String,
    val normalize: Boolean,
    val dim: Int,
    val matryoshkaDims: List<Int>,
    val maxSeqLength: Int,
    val prompts: Map<String, String>,
    val defaultTask: String?,
    val outputDim: Int?,
    val sequenceBuckets: List<Int>,
    val batchBuckets: List<Int>,
) {
    /** The dims a caller may ask for: the fixed output dim, or every Matryoshka dim. */
    val dims: List<Int> get() = outputDim?.let { listOf(it) } ?: matryoshkaDims

    /** What queries get: the model's "query" prompt, else the default task's, else "" (as in Python). */
    val queryPrompt: String get() = prompt("query".takeIf { it in prompts })

    /** What documents get: the model's "document" prompt, else the default task's, else "". */
    val documentPrompt: String get() = prompt("document".takeIf { it in prompts })

    /** The prompt of `task` (null: the default task's, if any); an unknown task is an error naming the known ones. */
    fun prompt(task: String?): String {
        val name = task ?: defaultTask ?: return ""
        return prompts[name] ?: throw IllegalArgumentException("unknown task '$name'; this model knows ${prompts.keys}")
    }

    companion object {
        const val FORMAT_VERSION = 1

        fun parse(json: String): Manifest {
            val m = Json.parse(json).asObject("manifest.json")
            val version = m["format_version"].asInt("format_version")
            require(version == FORMAT_VERSION) { "manifest format $version; this core reads $FORMAT_VERSION" }
            fun ints(key: String) = (m[key] ?: emptyList<Any?>()).asList(key).map { it.asInt(key) }
            return Manifest(
                name = m["name"] as? String ?: throw IllegalArgumentException("manifest.json: no name"),
                format = m["format"] as String,
                precision = m["precision"] as String,
                pooling = m["pooling"] as String,
                normalize = m["normalize"] as Boolean,
                dim = m["dim"].asInt("dim"),
                matryoshkaDims = ints("matryoshka_dims"),
                maxSeqLength = m["max_seq_length"].asInt("max_seq_length"),
                prompts = (m["prompts"] ?: emptyMap<String, Any?>()).asObject("prompts").mapValues { it.value as String },
                defaultTask = m["default_task"] as String?,
                outputDim = m["output_dim"]?.asInt("output_dim"),
                sequenceBuckets = ints("sequence_buckets"),
                batchBuckets = ints("batch_buckets"),
            )
        }
    }
}
