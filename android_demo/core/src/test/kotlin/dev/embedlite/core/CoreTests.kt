package dev.embedlite.core

import java.io.File
import java.io.RandomAccessFile
import java.nio.file.Files
import kotlin.math.abs
import kotlin.system.exitProcess

/**
 * The core's tests, run on the JVM against a bundle from `embedlite export --target android` (its parity.json
 * holds what the Python runtime produced). Prints one line per failure and a closing `N passed, N failed`.
 */
fun main(args: Array<String>) {
    require(args.size == 1) { "usage: CoreTestsKt BUNDLE_DIR (from embedlite export --target android)" }
    val suite = CoreTests(File(args[0]))
    var passed = 0
    var failed = 0
    for ((name, body) in suite.tests) {
        try {
            body()
            passed++
            println("PASS $name")
        } catch (e: Throwable) {
            failed++
            println("FAIL $name: ${e.message ?: e}")
        }
    }
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0) 0 else 1)
}

class CoreTests(private val bundle: File) {
    val tests = LinkedHashMap<String, () -> Unit>()
    private val manifest by lazy { Manifest.parse(File(bundle, "manifest.json").readText()) }
    private val tokenizer by lazy { WordPieceTokenizer.fromJson(File(bundle, "tokenizer.json").readText(), manifest.maxSeqLength) }
    private val parity by lazy { Json.parse(File(bundle, "parity.json").readText()).asObject("parity.json") }
    private val embeddings by lazy { floatRows(parity["embeddings"]) }

    private fun test(name: String, body: () -> Unit) { tests[name] = body }

    private fun floatRows(value: Any?): List<FloatArray> =
        value.asList("rows").map { row -> row.asList("row").map { (it as Double).toFloat() }.toFloatArray() }

    private fun tempFile(): File = Files.createTempFile("embedlite-core", ".notes").toFile().also { it.delete() }

    init {
        test("manifest: dims, buckets and max length of a TFLite artifact") {
            assertEquals("tflite", manifest.format)
            assertEquals(manifest.dim, manifest.dims.first())
            assertTrue(manifest.sequenceBuckets.isNotEmpty() && manifest.sequenceBuckets.last() == manifest.maxSeqLength)
            assertEquals(parity["max_seq_length"].asInt("max_seq_length"), manifest.maxSeqLength)
        }

        test("tokenizer: exact ids of Python's tokenizer on every parity text") {
            val texts = parity["texts"].asList("texts").map { it as String }
            val ids = parity["ids"].asList("ids").map { row -> row.asList("ids").map { it.asInt("id") } }
            assertTrue(texts.size >= 40 && texts.size == ids.size)
            val wrong = texts.indices.filter { tokenizer.encode(texts[it]).toList() != ids[it] }
            assertTrue(wrong.isEmpty(), "${wrong.size} of ${texts.size} texts differ, first: " +
                wrong.take(3).joinToString { "'${texts[it].take(60)}' -> ${tokenizer.encode(texts[it]).toList().take(20)} " +
                    "expected ${ids[it].take(20)}" })
            println("  tokenizer: ${texts.size} texts, ids identical")
        }

        test("tokenizer: long texts are cut to max_seq_length, ending with [SEP]") {
            val ids = tokenizer.encode("embedding ".repeat(1000))
            assertEquals(manifest.maxSeqLength, ids.size)
            assertEquals(tokenizer.encode("x").last(), ids.last())
        }

        test("Matryoshka truncation matches the Python runtime's dim-truncated embeddings") {
            val truncated = parity["truncated"].asObject("truncated")
            val dim = truncated["dim"].asInt("dim")
            val expected = floatRows(truncated["embeddings"])
            for ((i, row) in expected.withIndex()) {
                val mine = Vectors.truncate(embeddings[i], dim)
                val diff = mine.indices.maxOf { abs(mine[it] - row[it]) }
                assertTrue(diff < 1e-6, "text $i: max difference $diff")
            }
        }

        for (quantization in Quantization.entries) {
            test("store: same top-10 as Python's VectorStore, ${quantization.name.lowercase()} storage") {
                val file = tempFile()
                VectorStore(file, manifest.dim, quantization).use { store ->
                    embeddings.forEachIndexed { i, v -> store.put(i.toString(), v) }
                    val searches = parity["searches"].asList("searches").map { it.asObject("search") }
                        .filter { it["quantization"] == if (quantization == Quantization.INT8) "int8" else "float32" }
                    assertTrue(searches.isNotEmpty())
                    for (s in searches) {
                        val query = (s["query"].asList("query")).map { (it as Double).toFloat() }.toFloatArray()
                        val expected = s["top10"].asList("top10").map { it.asInt("id").toString() }
                        assertEquals(expected, store.search(query, 10).map { it.id })
                    }
                }
                file.delete()
            }
        }

        test("store: records survive reopening; upsert replaces, delete removes") {
            val file = tempFile()
            VectorStore(file, 4).use { s ->
                s.put("a", floatArrayOf(1f, 0f, 0f, 0f), "first")
                s.put("b", floatArrayOf(0f, 1f, 0f, 0f), "second")
                s.put("a", floatArrayOf(0f, 0f, 1f, 0f), "first, edited")
                assertTrue(s.delete("b"))
                assertTrue(!s.delete("b"))
            }
            VectorStore(file, 4).use { s ->
                assertEquals(listOf("a"), s.ids())
                assertEquals("first, edited", s.text("a"))
                assertEquals("a", s.search(floatArrayOf(0f, 0f, 2f, 0f), 1).single().id)
            }
            file.delete()
        }

        test("store: a torn last write is dropped, every earlier record kept") {
            val file = tempFile()
            VectorStore(file, 4).use { s -> (0 until 10).forEach { s.put("id$it", floatArrayOf(1f, it.toFloat(), 0f, 0f)) } }
            RandomAccessFile(file, "rw").use { it.setLength(it.length() - 5) }  // a crash in the middle of the last write
            VectorStore(file, 4).use { s ->
                assertEquals((0 until 9).map { "id$it" }, s.ids())
                s.put("after", floatArrayOf(0f, 0f, 0f, 1f))
            }
            VectorStore(file, 4).use { s -> assertEquals(10, s.size) }
            file.delete()
        }

        test("store: compaction keeps the live records") {
            val file = tempFile()
            VectorStore(file, 2, Quantization.INT8).use { s ->
                repeat(200) { s.put("k${it % 5}", floatArrayOf(1f, it.toFloat())) }
            }
            val uncompacted = 200 * 29  // bytes of 200 put records of this size
            assertTrue(file.length() < uncompacted / 2, "file is ${file.length()} bytes after compaction")
            VectorStore(file, 2, Quantization.INT8).use { s -> assertEquals(listOf("k0", "k1", "k2", "k3", "k4"), s.ids().sorted()) }
            file.delete()
        }

        test("store: bad input is refused and nothing stored is lost") {
            val file = tempFile()
            VectorStore(file, 3).use { s ->
                s.put("keep", floatArrayOf(1f, 2f, 3f))
                assertFailsWith<IllegalArgumentException> { s.put("x", floatArrayOf(1f, 2f)) }
                assertFailsWith<IllegalArgumentException> { s.put("x", floatArrayOf(1f, Float.NaN, 0f)) }
                assertFailsWith<IllegalArgumentException> { s.put("x", floatArrayOf(0f, 0f, 0f)) }
                assertFailsWith<IllegalArgumentException> { s.put("", floatArrayOf(1f, 0f, 0f)) }
                assertFailsWith<IllegalArgumentException> { s.search(floatArrayOf(1f), 3) }
            }
            val wrongDim = assertFailsWith<IllegalArgumentException> { VectorStore(file, 4) }
            assertTrue("dim 3" in wrongDim.message!!)
            val other = tempFile().apply { writeText("not a store at all") }
            assertFailsWith<IllegalArgumentException> { VectorStore(other, 3) }
            VectorStore(file, 3).use { s -> assertEquals(listOf("keep"), s.ids()) }
            file.delete(); other.delete()
        }

        for (quantization in Quantization.entries) {
            val name = "golden-${quantization.name.lowercase()}.store"
            test("store: $name (shared with the Swift core in ios/) is what this store writes, and it opens") {
                val golden = CoreTests::class.java.getResourceAsStream("/$name")?.use { it.readBytes() }
                    ?: throw AssertionError("$name is not on the test classpath (src/test/resources)")
                val file = tempFile()
                VectorStore(file, 4, quantization).use { writeGoldenRecords(it) }
                assertTrue(file.readBytes().contentEquals(golden), "this store wrote other bytes than $name: ${file.path}")
                file.writeBytes(golden)
                VectorStore(file, 4, quantization).use { s ->
                    assertEquals(listOf("alpha", "empty", "gamma"), s.ids().sorted())
                    assertEquals("first note, edited", s.text("alpha"))
                    assertEquals("", s.text("empty"))
                    assertEquals("alpha", s.search(floatArrayOf(1f, 1f, 1f, 1f), 1).single().id)
                }
                file.delete()
            }
        }

        test("buckets: the smallest signature that holds the batch") {
            val buckets = listOf("b1_s32", "b8_s32", "b1_s128", "b8_s128", "serving_default").mapNotNull(Bucket::parse)
            assertEquals(4, buckets.size)
            assertEquals(Bucket(1, 32), Bucket.choose(buckets, 1, 20))
            assertEquals(Bucket(8, 32), Bucket.choose(buckets, 3, 32))
            assertEquals(Bucket(8, 128), Bucket.choose(buckets, 8, 33))
            assertEquals(null, Bucket.choose(buckets, 9, 10))
            val batch = PaddedBatch.of(listOf(intArrayOf(101, 7, 102)), padId = 0, width = 8, batch = 2)
            assertEquals(listOf(101, 7, 102, 0, 0, 0, 0, 0), batch.inputIds[0].toList())
            assertEquals(listOf(1, 1, 1, 0, 0, 0, 0, 0), batch.attentionMask[0].toList())
            assertEquals(1, batch.attentionMask[1].sum())
        }

        test("embedder: results come back in input order, each batch in the smallest bucket, truncated on request") {
            val used = ArrayList<Bucket>()
            val backend = object : InferenceBackend {
                override val description = "echo"
                override val buckets = listOf(Bucket(1, 32), Bucket(8, 32), Bucket(1, 256), Bucket(8, 256))
                // each row's vector is (number of real tokens, 1, 0, ...): enough to check order and padding
                override fun run(bucket: Bucket, batch: PaddedBatch): Array<FloatArray> {
                    used.add(bucket)
                    return Array(batch.inputIds.size) { r ->
                        FloatArray(manifest.dim).also { it[0] = batch.attentionMask[r].sum().toFloat(); it[1] = 1f }
                    }
                }
                override fun close() {}
            }
            val texts = listOf("one two three four", "hi", "word ".repeat(100))
            val out = Embedder(manifest, tokenizer, backend).embed(texts)
            assertEquals(texts.map { tokenizer.encode(it).size.toFloat() }, out.map { it[0] })
            val short = Embedder(manifest, tokenizer, backend).embed(listOf("hi"), dim = 64).single()
            assertEquals(listOf(Bucket(8, 256), Bucket(1, 32)), used)  // three texts fit one batch of 8
            assertEquals(64, short.size)
            assertTrue(abs(Vectors.dot(short, short) - 1f) < 1e-6)
            assertFailsWith<IllegalArgumentException> { Embedder(manifest, tokenizer, backend).embed(listOf("hi"), dim = 7) }
            assertFailsWith<IllegalArgumentException> { Embedder(manifest, tokenizer, backend).embed(listOf(" ")) }
        }

        test("json: escapes, nesting, numbers; errors name the offset") {
            val v = Json.parse("""{"a": [1, -2.5e3, true, null], "s": "q\"\\\u00e9\n", "o": {}}""").asObject("v")
            assertEquals(listOf(1.0, -2500.0, true, null), v["a"])
            assertEquals("q\"\\é\n", v["s"])
            val e = assertFailsWith<IllegalArgumentException> { Json.parse("""{"a": [1, 2}""") }
            assertTrue("offset" in e.message!!)
        }
    }
}

/** The records of the golden store files; the Swift core's StoreTests writes the same ones and must get the same bytes. */
private fun writeGoldenRecords(store: VectorStore) {
    store.put("alpha", floatArrayOf(0.5f, -1f, 2f, 0.25f), "first note")
    store.put("beta", floatArrayOf(1f, 0f, 0f, 0f))
    store.put("gamma", floatArrayOf(0f, 3f, 0f, 4f), "ünïcödé ✓ 東京 😀")
    store.put("alpha", floatArrayOf(1f, 1f, 1f, 1f), "first note, edited")
    store.delete("beta")
    store.put("empty", floatArrayOf(0f, 0f, 1e-3f, 0f), "")
}
