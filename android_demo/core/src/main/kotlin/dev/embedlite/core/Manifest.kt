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
    /** name -> (sha256, bytes) of every file the model needs, as `embedlite export` recorded them. */
    val files: Map<String, FileEntry> = emptyMap(),
) {
    /** One file of the artifact: its sha256 (hex) and size; `bytes` is null where the manifest omits it. */
    data class FileEntry(val sha256: String, val bytes: Long?)

    /** The model file this manifest describes (model.tflite or model.onnx). */
    val modelFile: String get() = MODEL_FILES[format] ?: "model.$format"

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
        val MODEL_FILES = mapOf("onnx" to "model.onnx", "tflite" to "model.tflite")

        /** Parses and checks manifest.json: version, format, and that the model file and tokenizer are listed. */
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
                files = (m["files"] ?: emptyMap<String, Any?>()).asObject("files").mapValues { (name, value) ->
                    val entry = value.asObject("files.$name")
                    FileEntry(entry["sha256"] as? String ?: throw IllegalArgumentException("files.$name: no sha256"),
                        (entry["bytes"] as? Double)?.toLong())
                },
            ).also { it.check() }
        }
    }

    private fun check() {
        require(format in MODEL_FILES) { "manifest.json names an unknown format '$format'" }
        for (file in listOf(modelFile, "tokenizer.json")) {
            require(file in files) { "manifest.json does not list $file among its files" }
        }
    }
}
