package dev.embedlite.core

// The three assertions the tests use, so they compile with nothing but the Kotlin stdlib (the compiler that
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
