package dev.embedlite.core

/** A small JSON reader (RFC 8259) so the core needs nothing beyond the Kotlin standard library. */
object Json {
    /** Objects become Map<String, Any?>, arrays List<Any?>, numbers Double, plus String, Boolean and null. */
    fun parse(text: String): Any? {
        val reader = Reader(text)
        val value = reader.value()
        reader.skipSpace()
        if (reader.pos != text.length) reader.fail("trailing characters")
        return value
    }

    private class Reader(val s: String) {
        var pos = 0

        fun fail(what: String): Nothing = throw IllegalArgumentException("invalid JSON at offset $pos: $what")

        fun skipSpace() {
            while (pos < s.length && s[pos] in " \t\r\n") pos++
        }

        fun value(): Any? {
            skipSpace()
            if (pos >= s.length) fail("unexpected end")
            return when (s[pos]) {
                '{' -> obj()
                '[' -> array()
                '"' -> string()
                't' -> literal("true", true)
                'f' -> literal("false", false)
                'n' -> literal("null", null)
                else -> number()
            }
        }

        fun literal(word: String, result: Any?): Any? {
            if (!s.startsWith(word, pos)) fail("expected $word")
            pos += word.length
            return result
        }

        fun obj(): Map<String, Any?> {
            val out = LinkedHashMap<String, Any?>()
            pos++
            skipSpace()
            if (peek() == '}') { pos++; return out }
            while (true) {
                skipSpace()
                if (peek() != '"') fail("expected a key")
                val key = string()
                skipSpace()
                if (peek() != ':') fail("expected ':'")
                pos++
                out[key] = value()
                skipSpace()
                when (peek()) {
                    ',' -> pos++
                    '}' -> { pos++; return out }
                    else -> fail("expected ',' or '}'")
                }
            }
        }

        fun array(): List<Any?> {
            val out = ArrayList<Any?>()
            pos++
            skipSpace()
            if (peek() == ']') { pos++; return out }
            while (true) {
                out.add(value())
                skipSpace()
                when (peek()) {
                    ',' -> pos++
                    ']' -> { pos++; return out }
                    else -> fail("expected ',' or ']'")
                }
            }
        }

        fun string(): String {
            val sb = StringBuilder()
            pos++
            while (true) {
                if (pos >= s.length) fail("unterminated string")
                val c = s[pos++]
                when (c) {
                    '"' -> return sb.toString()
                    '\\' -> {
                        if (pos >= s.length) fail("unterminated escape")
                        when (val e = s[pos++]) {
                            '"', '\\', '/' -> sb.append(e)
                            'b' -> sb.append('\b')
                            'f' -> sb.append('\u000C')
                            'n' -> sb.append('\n')
                            'r' -> sb.append('\r')
                            't' -> sb.append('\t')
                            'u' -> {
                                if (pos + 4 > s.length) fail("short \\u escape")
                                sb.append(s.substring(pos, pos + 4).toInt(16).toChar())
                                pos += 4
                            }
                            else -> fail("bad escape \\$e")
                        }
                    }
                    else -> sb.append(c)
                }
            }
        }

        fun number(): Double {
            val start = pos
            while (pos < s.length && s[pos] in "+-0123456789.eE") pos++
            return s.substring(start, pos).toDoubleOrNull() ?: fail("expected a value")
        }

        fun peek(): Char = if (pos < s.length) s[pos] else fail("unexpected end")
    }
}

@Suppress("UNCHECKED_CAST")
internal fun Any?.asObject(what: String): Map<String, Any?> =
    this as? Map<String, Any?> ?: throw IllegalArgumentException("$what: expected a JSON object")

@Suppress("UNCHECKED_CAST")
internal fun Any?.asList(what: String): List<Any?> =
    this as? List<Any?> ?: throw IllegalArgumentException("$what: expected a JSON array")

internal fun Any?.asInt(what: String): Int =
    (this as? Double)?.toInt() ?: throw IllegalArgumentException("$what: expected a number")
