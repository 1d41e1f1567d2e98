package dev.embedlite.core

import java.util.Base64

/**
 * A tokenizer.json normaliser, as Hugging Face `tokenizers` applies it to the text between added tokens: a Sequence,
 * Replace (a literal string or a regex, the content put in literally) or Precompiled (SentencePiece's charsmap).
 */
internal fun interface Normalizer {
    fun normalize(text: String): String

    companion object {
        /** From the tokenizer.json "normalizer" object (null: none); another type is refused by name. */
        fun of(spec: Map<String, Any?>?): Normalizer {
            if (spec == null) return Normalizer { it }
            return when (val type = spec["type"]) {
                "Sequence" -> {
                    val steps = spec["normalizers"].asList("normalizers").map { of(it.asObject("normalizer")) }
                    Normalizer { text -> steps.fold(text) { s, step -> step.normalize(s) } }
                }
                "Replace" -> {
                    val pattern = spec["pattern"].asObject("Replace pattern")
                    val content = spec["content"] as? String ?: throw IllegalArgumentException("Replace: content should be a string")
                    val literal = pattern["String"] as? String
                    val regex = pattern["Regex"] as? String
                    when {
                        !literal.isNullOrEmpty() -> Normalizer { it.replace(literal, content) }
                        regex != null -> Regex(regex).let { r -> Normalizer { r.replace(it, Regex.escapeReplacement(content)) } }
                        else -> throw IllegalArgumentException("Replace normaliser: the pattern should be a String or a Regex")
                    }
                }
                "Precompiled" -> PrecompiledCharsmap(Base64.getDecoder().decode(
                    spec["precompiled_charsmap"] as? String ?: throw IllegalArgumentException("Precompiled: no precompiled_charsmap")))
                else -> throw IllegalArgumentException("normalizer $type is not supported (Sequence, Replace and Precompiled are)")
            }
        }
    }
}
