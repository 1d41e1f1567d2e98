package dev.embedlite.core

import java.io.File
import java.io.RandomAccessFile
import java.nio.file.Files
import kotlin.math.abs
import kotlin.system.exitProcess

/**
 * The core's tests, run on the JVM against bundles from `embedlite export --target android` (their parity.json holds
 * what the Python runtime produced). With -Dembedlite.litert=PATH/libLiteRt.so the models run too, through LiteRT's
 * C API; with -Dembedlite.tokenizerFixtures=DIR the tokenizers are checked against the expected ids there (from
 * ios/scripts/make_tokenizer_fixtures.py, which the Swift core's tests read too). Prints one line per test and a
 * closing `N passed, N failed`.
 */
fun main(args: Array<String>) {
    require(args.isNotEmpty()) { "usage: CoreTestsKt BUNDLE_DIR... (from embedlite export --target android)" }
    val library = System.getProperty("embedlite.litert")?.let(::File)
    val fixtures = System.getProperty("embedlite.tokenizerFixtures")?.let(::File)
    val suites = listOf(UnitTests().tests) + listOfNotNull(fixtures?.let { TokenizerFixtureTests(it).tests }) +
        args.map { BundleTests(File(it), library).tests }
    var passed = 0
    var failed = 0
    for (suite in suites) for ((name, body) in suite) {
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

private fun floatRows(value: Any?): List<FloatArray> =
    value.asList("rows").map { row -> row.asList("row").map { (it as Double).toFloat() }.toFloatArray() }

private fun intRows(value: Any?): List<List<Int>> = value.asList("ids").map { row -> row.asList("ids").map { it.asInt("id") } }

private fun tempFile(): File = Files.createTempFile("embedlite-core", ".notes").toFile().also { it.delete() }

private fun cosine(a: FloatArray, b: FloatArray): Double {
    var dot = 0.0
    var na = 0.0
    var nb = 0.0
    for (i in a.indices) { dot += a[i].toDouble() * b[i]; na += a[i].toDouble() * a[i]; nb += b[i].toDouble() * b[i] }
    return dot / Math.sqrt(na * nb)
}

/** Python's vectors against Kotlin's: the lowest cosine, and the index where it is. */
private fun assertSameVectors(expected: List<FloatArray>, actual: List<FloatArray>, what: String, min: Double = 0.9999) {
    assertEquals(expected.size, actual.size, "$what: count")
    val cos = expected.indices.map { cosine(expected[it], actual[it]) }
    val worst = cos.indices.minByOrNull { cos[it] } ?: return
    assertTrue(cos[worst] >= min, "$what: cosine ${cos[worst]} at $worst")
    println("  $what: ${cos.size} vectors, min cosine ${"%.6f".format(cos[worst])}")
}

/** Checks against one bundle's parity.json: tokenizer, prompts, model (with a LiteRT library), truncation, store. */
class BundleTests(private val bundle: File, library: File?) {
    val tests = LinkedHashMap<String, () -> Unit>()
    private val artifact = Artifact.load(bundle)  // checksums verified
    private val manifest = artifact.manifest
    private val tokenizer = artifact.tokenizer
    private val parity by lazy { Json.parse(File(bundle, "parity.json").readText()).asObject("parity.json") }
    private val texts by lazy { parity["texts"].asList("texts").map { it as String } }
    private val embeddings by lazy { floatRows(parity["embeddings"]) }
    private val embedder by lazy { Embedder(artifact, LiteRtJvmBackend(library!!, File(bundle, manifest.modelFile))) }
    private val kotlinEmbeddings by lazy { embedder.embed(texts.take(embeddings.size)) }

    private fun test(name: String, body: () -> Unit) { tests["${manifest.name}: $name"] = body }

    init {
        test("parity.json: every section has a test here") {
            assertEquals(PARITY_SECTIONS, parity.keys, "sections of parity.json")
        }

        test("manifest: name, dims, buckets and max length of a TFLite artifact") {
            assertEquals(parity["model"], manifest.name)
            assertEquals("tflite", manifest.format)
            assertEquals(manifest.dim, manifest.dims.first())
            assertTrue(manifest.sequenceBuckets.isNotEmpty() && manifest.sequenceBuckets.last() == manifest.maxSeqLength)
            assertEquals(parity["max_seq_length"].asInt("max_seq_length"), manifest.maxSeqLength)
        }

        test("tokenizer: exact ids of Python's tokenizer on every parity text") {
            val ids = intRows(parity["ids"])
            assertTrue(texts.size >= 40 && texts.size == ids.size)
            val wrong = texts.indices.filter { tokenizer.encode(texts[it]).toList() != ids[it] }
            assertTrue(wrong.isEmpty(), "${wrong.size} of ${texts.size} texts differ, first: " +
                wrong.take(3).joinToString { "'${texts[it].take(60)}' -> ${tokenizer.encode(texts[it]).toList().take(20)} " +
                    "expected ${ids[it].take(20)}" })
            println("  tokenizer: ${texts.size} texts, ids identical")
        }

        test("tokenizer: long texts are cut to max_seq_length, keeping the template's last token") {
            val ids = tokenizer.encode("embedding ".repeat(3000))
            assertEquals(manifest.maxSeqLength, ids.size)
            assertEquals(tokenizer.encode("x").last(), ids.last())
        }

        test("prompts: query and titled document ids equal Python's") {
            for (kind in listOf("queries", "documents")) {
                val case = parity[kind].asObject(kind)
                val count = case["count"].asInt("count")
                val titles = (case["titles"] ?: List(count) { null }).asList("titles").map { it as String? }
                val prompt = if (kind == "queries") manifest.queryPrompt else manifest.documentPrompt
                val mine = texts.take(count).mapIndexed { i, t -> tokenizer.encode(Embedder.withPrompt(prompt, t, titles[i])).toList() }
                assertEquals(intRows(case["ids"]), mine, kind)
            }
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

        test("artifact: a changed, truncated, missing or outside file is refused, naming it") {
            val copy = Files.createTempDirectory("embedlite-artifact").toFile()
            val names = listOf("manifest.json") + manifest.files.keys  // NOTICE too, where the model has one
            fun restore() = names.forEach { File(bundle, it).copyTo(File(copy, it), overwrite = true) }
            try {
                restore()
                assertEquals(manifest, Artifact.load(copy).manifest)
                val model = File(copy, manifest.modelFile)
                val bytes = model.readBytes()
                bytes[bytes.size / 2] = (bytes[bytes.size / 2] + 1).toByte()  // same size, other content
                model.writeBytes(bytes)
                assertMessage(listOf("${manifest.modelFile} fails its sha256 check")) { Artifact.load(copy) }
                assertEquals(manifest, Artifact.load(copy, verify = false).manifest)
                restore()
                File(copy, manifest.modelFile).writeBytes(ByteArray(5))
                assertMessage(listOf("${manifest.modelFile} is 5 bytes", "truncated or replaced")) { Artifact.load(copy) }
                restore()
                File(copy, "tokenizer.json").delete()
                assertMessage(listOf("tokenizer.json is missing")) { Artifact.load(copy) }
                restore()
                val outside = File(copy, "manifest.json").readText().replaceFirst("\"files\": {", "\"files\": {\"../secret\": {\"sha256\": \"0\"}, ")
                File(copy, "manifest.json").writeText(outside)
                assertMessage(listOf("'../secret'", "outside the artifact directory")) { Artifact.load(copy) }
                File(copy, "manifest.json").delete()
                assertMessage(listOf("manifest.json is missing")) { Artifact.load(copy) }
                assertMessage(listOf("not a directory")) { Artifact.load(File(copy, "nowhere")) }
            } finally {
                copy.deleteRecursively()
            }
        }

        for (quantization in Quantization.entries) {
            val name = pythonName(quantization)
            test("store: same top-10 as Python's VectorStore on Python's vectors, $name storage") {
                assertSameTop10(quantization, embeddings)
            }
            test("store: ties after upserts and deletes rank as Python's VectorStore ranks them, $name storage") {
                val case = parity["store_ties"].asList("store_ties").map { it.asObject("case") }
                    .single { it["quantization"] == pythonName(quantization) }
                val file = tempFile()
                VectorStore(file, manifest.dim, quantization).use { store ->
                    for (op in case["ops"].asList("ops").map { it.asObject("op") }) {
                        val id = op["id"] as String
                        if (op["op"] == "delete") store.delete(id)
                        else store.upsert(id, (op["vector"].asList("vector")).map { (it as Double).toFloat() }.toFloatArray())
                    }
                    val query = case["query"].asList("query").map { (it as Double).toFloat() }.toFloatArray()
                    assertEquals(case["top10"].asList("top10"), store.search(query, 10).map { it.id })
                }
                file.delete()
            }
        }

        if (library != null) {
            test("model: embeddings equal the Python runtime's on every parity text (LiteRT C API)") {
                assertSameVectors(embeddings, kotlinEmbeddings, "embeddings")
            }

            test("model: blank and empty texts embed as in Python; no texts give no vectors") {
                val blank = texts.drop(embeddings.size)
                assertTrue(blank.isNotEmpty() && blank.all { it.isBlank() })
                assertSameVectors(floatRows(parity["blank_embeddings"]), embedder.embed(blank), "blank texts")
                assertEquals(0, embedder.embed(emptyList()).size)
            }

            test("model: dim-truncated embeddings equal the Python runtime's embed(dim=)") {
                val truncated = parity["truncated"].asObject("truncated")
                val expected = floatRows(truncated["embeddings"])
                val mine = embedder.embed(texts.take(expected.size), dim = truncated["dim"].asInt("dim"))
                assertSameVectors(expected, mine, "truncated")
                assertTrue(mine.all { abs(Vectors.dot(it, it) - 1f) < 1e-4 }, "truncated vectors are unit length")
            }

            test("model: queries and titled documents embed as Python's embed_query / embed_documents") {
                val queries = parity["queries"].asObject("queries")
                assertSameVectors(floatRows(queries["embeddings"]),
                    embedder.embedQuery(texts.take(queries["count"].asInt("count"))), "queries")
                val documents = parity["documents"].asObject("documents")
                val titles = documents["titles"].asList("titles").map { it as String? }
                assertSameVectors(floatRows(documents["embeddings"]),
                    embedder.embedDocuments(texts.take(titles.size), titles), "documents")
            }

            for (quantization in Quantization.entries) {
                test("store: same top-10 as Python's VectorStore on the Kotlin embeddings, ${pythonName(quantization)} storage") {
                    assertSameTop10(quantization, kotlinEmbeddings)
                }
            }
        }
    }

    private companion object {
        /** The sections of parity.json (converters/mobile_bundle.py) that the tests above check. */
        val PARITY_SECTIONS = setOf("model", "max_seq_length", "texts", "ids", "embeddings", "blank_embeddings",
            "truncated", "queries", "documents", "searches", "store_ties")
    }

    private fun pythonName(quantization: Quantization) = if (quantization == Quantization.INT8) "int8" else "float32"

    /** Stores `vectors` under their index and asks Python's queries (blends of two stored vectors, rebuilt here). */
    private fun assertSameTop10(quantization: Quantization, vectors: List<FloatArray>) {
        val file = tempFile()
        VectorStore(file, manifest.dim, quantization).use { store ->
            vectors.forEachIndexed { i, v -> store.upsert(i.toString(), v) }
            val searches = parity["searches"].asList("searches").map { it.asObject("search") }
                .filter { it["quantization"] == pythonName(quantization) }
            assertTrue(searches.isNotEmpty())
            searches.forEachIndexed { q, s ->
                val query = FloatArray(manifest.dim) { 0.7f * vectors[q][it] + 0.3f * vectors[vectors.size - 1 - q][it] }
                val expected = s["top10"].asList("top10").map { it.asInt("id").toString() }
                assertEquals(expected, store.search(query, 10).map { it.id }, "query $q")
            }
        }
        file.delete()
    }
}

/**
 * Exact ids of Python's `tokenizers` for every text of every section of the shared expected.json (see
 * ios/scripts/make_tokenizer_fixtures.py): Gemma 3 BPE, MiniLM WordPiece, multilingual-e5's Unigram on every
 * stsb-multi-mt test sentence, and the pruned Unigram of the multilingual student, each on the hard cases.
 */
class TokenizerFixtureTests(private val dir: File) {
    val tests = LinkedHashMap<String, () -> Unit>()
    private val expected by lazy {
        val file = File(dir, "expected.json")
        require(file.isFile) { "$file is missing: android_demo/core/make_bundles.sh makes it" }
        Json.parse(file.readText()).asObject("expected.json")
    }

    init {
        tests["tokenizer fixtures: every tokenizer the cores support has a section"] = {
            assertEquals(SECTIONS, expected.keys, "sections of expected.json")
        }
        for (section in SECTIONS) {
            tests["tokenizer fixtures: $section ids equal Python's on every text"] = {
                val case = expected[section].asObject(section)
                val maxLength = case["max_length"].asInt("max_length")
                val tokenizer = Tokenizer.fromJson(File(dir, "$section/tokenizer.json").readText(), maxLength)
                val texts = case["texts"].asList("texts").map { it as String }
                val ids = intRows(case["ids"])
                assertTrue(texts.isNotEmpty() && texts.size == ids.size, "$section: ${texts.size} texts, ${ids.size} ids")
                val wrong = texts.indices.filter { tokenizer.encode(texts[it]).toList() != ids[it] }
                assertTrue(wrong.isEmpty(), "$section: ${wrong.size} of ${texts.size} texts differ, first: " +
                    wrong.take(3).joinToString { i ->
                        val mine = tokenizer.encode(texts[i]).toList()
                        val at = mine.indices.firstOrNull { it >= ids[i].size || mine[it] != ids[i][it] } ?: mine.size
                        "#$i '${texts[i].take(60)}' from token $at: ${mine.drop(at).take(12)} expected ${ids[i].drop(at).take(12)}"
                    })
                assertEquals(maxLength, tokenizer.encode("embedding ".repeat(3000)).size, "$section: a long text's length")
                println("  $section: ${texts.size} texts, ids identical")
            }
        }
    }

    private companion object {
        val SECTIONS = setOf("gemma", "minilm", "e5", "e5_student")
    }
}

/** Checks that need no bundle: the store's file format and crash safety, buckets, batching, JSON. */
class UnitTests {
    val tests = LinkedHashMap<String, () -> Unit>()

    private fun test(name: String, body: () -> Unit) { tests[name] = body }

    init {
        test("store: records survive reopening; upsert replaces in place, delete removes") {
            val file = tempFile()
            VectorStore(file, 4).use { s ->
                s.upsert("a", floatArrayOf(1f, 0f, 0f, 0f), "first")
                s.upsert("b", floatArrayOf(0f, 1f, 0f, 0f), "second")
                s.upsert("c", floatArrayOf(0f, 1f, 0f, 0f), "third")
                s.upsert("a", floatArrayOf(0f, 0f, 1f, 0f), "first, edited")
                assertTrue(s.delete("b"))
                assertTrue(!s.delete("b"))
                assertEquals(listOf("a", "c"), s.ids)
            }
            VectorStore(file, 4).use { s ->
                assertEquals(listOf("a", "c"), s.ids)
                assertEquals("first, edited", s.text("a"))
                assertEquals("a", s.search(floatArrayOf(0f, 0f, 2f, 0f), 1).single().id)
            }
            file.delete()
        }

        test("store: a torn last write is dropped, every earlier record kept") {
            val file = tempFile()
            VectorStore(file, 4).use { s -> (0 until 10).forEach { s.upsert("id$it", floatArrayOf(1f, it.toFloat(), 0f, 0f)) } }
            RandomAccessFile(file, "rw").use { it.setLength(it.length() - 5) }  // a crash in the middle of the last write
            VectorStore(file, 4).use { s ->
                assertEquals((0 until 9).map { "id$it" }, s.ids)
                s.upsert("after", floatArrayOf(0f, 0f, 0f, 1f))
            }
            VectorStore(file, 4).use { s -> assertEquals(10, s.count) }
            file.delete()
        }

        test("store: compaction keeps the live records in their order") {
            val file = tempFile()
            VectorStore(file, 2, Quantization.INT8).use { s ->
                repeat(200) { s.upsert("k${it % 5}", floatArrayOf(1f, it.toFloat())) }
            }
            val uncompacted = 200 * 29  // bytes of 200 put records of this size
            assertTrue(file.length() < uncompacted / 2, "file is ${file.length()} bytes after compaction")
            VectorStore(file, 2, Quantization.INT8).use { s -> assertEquals(listOf("k0", "k1", "k2", "k3", "k4"), s.ids) }
            file.delete()
        }

        test("store: bad input is refused and nothing stored is lost") {
            val file = tempFile()
            VectorStore(file, 3).use { s ->
                s.upsert("keep", floatArrayOf(1f, 2f, 3f))
                assertFailsWith<IllegalArgumentException> { s.upsert("x", floatArrayOf(1f, 2f)) }
                assertFailsWith<IllegalArgumentException> { s.upsert("x", floatArrayOf(1f, Float.NaN, 0f)) }
                assertFailsWith<IllegalArgumentException> { s.upsert("x", floatArrayOf(0f, 0f, 0f)) }
                assertFailsWith<IllegalArgumentException> { s.upsert("", floatArrayOf(1f, 0f, 0f)) }
                assertFailsWith<IllegalArgumentException> { s.search(floatArrayOf(1f), 3) }
            }
            val wrongDim = assertFailsWith<IllegalArgumentException> { VectorStore(file, 4) }
            assertTrue("dim 3" in wrongDim.message!!)
            val other = tempFile().apply { writeText("not a store at all") }
            assertFailsWith<IllegalArgumentException> { VectorStore(other, 3) }
            VectorStore(file, 3).use { s -> assertEquals(listOf("keep"), s.ids) }
            file.delete(); other.delete()
        }

        for (quantization in Quantization.entries) {
            val name = "golden-${quantization.name.lowercase()}.store"
            test("store: $name (shared with the Swift core in ios/) is what this store writes, and it opens") {
                val golden = UnitTests::class.java.getResourceAsStream("/$name")?.use { it.readBytes() }
                    ?: throw AssertionError("$name is not on the test classpath (src/test/resources)")
                val file = tempFile()
                VectorStore(file, 4, quantization).use { writeGoldenRecords(it) }
                assertTrue(file.readBytes().contentEquals(golden), "this store wrote other bytes than $name: ${file.path}")
                file.writeBytes(golden)
                VectorStore(file, 4, quantization).use { s ->
                    assertEquals(listOf("alpha", "empty", "gamma"), s.ids.sorted())
                    assertEquals("first note, edited", s.text("alpha"))
                    assertEquals("", s.text("empty"))
                    assertEquals("alpha", s.search(floatArrayOf(1f, 1f, 1f, 1f), 1).single().id)
                }
                file.delete()
            }
        }

        test("buckets: signatures parsed, each call's batch as Python's runtime picks it") {
            val buckets = listOf("b1_s32", "b8_s32", "b1_s128", "b8_s128", "serving_default").mapNotNull(Bucket::parse)
            assertEquals(listOf(Bucket(1, 32), Bucket(8, 32), Bucket(1, 128), Bucket(8, 128)), buckets)
            // the next call at one length, as Python's runtime makes it: (batch, texts it takes)
            assertEquals(32 to 32, Bucket.batchFor(listOf(1, 8, 32), 40))
            assertEquals(8 to 8, Bucket.batchFor(listOf(1, 8, 32), 20))  // under 3/4 of 32: calls of 8
            assertEquals(8 to 7, Bucket.batchFor(listOf(1, 8), 7))  // 3/4 full: one call
            assertEquals(1 to 1, Bucket.batchFor(listOf(1, 8), 4))  // less: calls of one
            assertEquals(8 to 1, Bucket.batchFor(listOf(8), 1))  // no smaller batch: one padded call
            val batch = PaddedBatch.of(listOf(intArrayOf(101, 7, 102)), padId = 0, width = 8, batch = 2)
            assertEquals(listOf(101, 7, 102, 0, 0, 0, 0, 0), batch.inputIds[0].toList())
            assertEquals(listOf(1, 1, 1, 0, 0, 0, 0, 0), batch.attentionMask[0].toList())
            assertEquals(1, batch.attentionMask[1].sum())
        }

        test("embedder: input order kept, each batch in the smallest bucket, prompts and titles, truncation on request") {
            val manifest = Manifest("echo", "tflite", "int8", "mean", true, 4, listOf(4, 2), 300,
                mapOf("query" to "q: ", "document" to "title: none | text: "), null, null, listOf(32, 256), listOf(1, 8))
            val tokenizer = object : Tokenizer {  // one id per character: lengths are easy to follow
                override val padId = 0
                override val maxLength = 256
                override fun encode(text: String) = IntArray(minOf(text.length, maxLength)) { text[it].code }
            }
            val used = ArrayList<Bucket>()
            val backend = object : InferenceBackend {
                override val device = "echo"
                override val buckets = listOf(Bucket(1, 32), Bucket(8, 32), Bucket(32, 32), Bucket(1, 256), Bucket(8, 256))
                // each row's vector is (number of real tokens, 1, 0, 0): enough to check order and padding
                override fun run(bucket: Bucket, batch: PaddedBatch): Array<FloatArray> {
                    used.add(bucket)
                    return Array(batch.inputIds.size) { r -> floatArrayOf(batch.attentionMask[r].sum().toFloat(), 1f, 0f, 0f) }
                }
                override fun close() {}
            }
            val embedder = Embedder(manifest, tokenizer, backend)
            val texts = listOf("one two three four", "hi", "word ".repeat(40))
            assertEquals(listOf(18f, 2f, 200f), embedder.embed(texts).map { it[0] })
            // three texts fill less than 3/4 of a batch of 8: calls of one, each in the smallest length that holds it
            assertEquals(listOf(Bucket(1, 32), Bucket(1, 32), Bucket(1, 256)), used)
            used.clear()  // six short texts and a long one: the short ones are not padded to the long one's length
            assertEquals(listOf(2f, 2f, 2f, 2f, 2f, 2f, 200f), embedder.embed(List(6) { "hi" } + "word ".repeat(40)).map { it[0] })
            assertEquals(listOf(Bucket(8, 32), Bucket(1, 256)), used)
            used.clear()  // the 32-row signature only where the length has one
            assertEquals(34, embedder.embed(List(33) { "hi" } + "word ".repeat(40)).size)
            assertEquals(listOf(Bucket(32, 32), Bucket(1, 32), Bucket(1, 256)), used)
            assertEquals(listOf(5f), embedder.embedQuery(listOf("hi")).map { it[0] })  // "q: hi"
            assertEquals("title: Paris | text: hi", Embedder.withPrompt(manifest.documentPrompt, "hi", "Paris"))
            assertEquals("title: none | text: hi", Embedder.withPrompt(manifest.documentPrompt, "hi", null))
            assertEquals("Paris hi", Embedder.withPrompt("", "hi", "Paris"))
            assertEquals(listOf(23f, 22f), embedder.embedDocuments(listOf("hi", "hi"), listOf("Paris", null)).map { it[0] })
            val short = embedder.embed(listOf("hi"), dim = 2).single()
            assertEquals(2, short.size)
            assertTrue(abs(Vectors.dot(short, short) - 1f) < 1e-6)
            assertEquals(0, embedder.embed(emptyList()).size)
            assertEquals(listOf(0f), embedder.embed(listOf("")).map { it[0] })  // "" is a text, as in Python
            assertFailsWith<IllegalArgumentException> { embedder.embed(listOf("hi"), dim = 3) }
            assertFailsWith<IllegalArgumentException> { embedder.embed(listOf("hi"), task = "nope") }
            assertFailsWith<IllegalArgumentException> { embedder.embedDocuments(listOf("a", "b"), listOf("t")) }
        }

        test("embedder: truncation re-normalises only for models that normalise, and only below the full dim") {
            val backend = object : InferenceBackend {  // every row is (3, 4, 12, 0): norm 13, prefix (3, 4) norm 5
                override val device = "constant"
                override val buckets = listOf(Bucket(8, 32))
                override fun run(bucket: Bucket, batch: PaddedBatch) = Array(bucket.batch) { floatArrayOf(3f, 4f, 12f, 0f) }
                override fun close() {}
            }
            val tokenizer = object : Tokenizer {
                override val padId = 0
                override val maxLength = 32
                override fun encode(text: String) = IntArray(1) { 1 }
            }
            fun embedder(normalize: Boolean) = Embedder(Manifest("m", "tflite", "float32", "mean", normalize, 4,
                listOf(4, 2), 32, emptyMap(), null, null, listOf(32), listOf(8)), tokenizer, backend)
            assertEquals(listOf(3f, 4f), embedder(normalize = false).embed(listOf("x"), dim = 2).single().toList())
            assertEquals(listOf(0.6f, 0.8f), embedder(normalize = true).embed(listOf("x"), dim = 2).single().toList())
            assertEquals(listOf(3f, 4f, 12f, 0f), embedder(normalize = true).embed(listOf("x"), dim = 4).single().toList())
        }

        test("unigram: the best-scoring path per word, consecutive unknown characters one <unk>, as in tokenizers") {
            // "abc": ab + c (-1 - 2) beats a + bc (-2 - 2); x and y are in no piece: one <unk>
            val json = """
                {"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["▁", -1.0], ["a", -2.0],
                  ["b", -2.0], ["c", -2.0], ["ab", -1.0], ["bc", -2.0], ["▁abc", -9.0]]},
                 "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
                 "normalizer": {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}}
            """
            val tokenizer = Tokenizer.fromJson(json, 16)
            assertEquals(listOf(1, 5, 4), tokenizer.encode("abc").toList())
            assertEquals(listOf(1, 0, 5, 1, 4), tokenizer.encode("xyab   c").toList())
            assertMessage(listOf("unk_id")) { Tokenizer.fromJson("""{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}""", 8) }
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
    store.upsert("alpha", floatArrayOf(0.5f, -1f, 2f, 0.25f), "first note")
    store.upsert("beta", floatArrayOf(1f, 0f, 0f, 0f))
    store.upsert("gamma", floatArrayOf(0f, 3f, 0f, 4f), "ünïcödé ✓ 東京 😀")
    store.upsert("alpha", floatArrayOf(1f, 1f, 1f, 1f), "first note, edited")
    store.delete("beta")
    store.upsert("empty", floatArrayOf(0f, 0f, 1e-3f, 0f), "")
}
