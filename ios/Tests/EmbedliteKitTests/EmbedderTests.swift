import Foundation
import XCTest
@testable import EmbedliteKit

/// A backend that reports, for each row, how many real tokens it got: enough to check order, buckets and padding.
final class EchoBackend: InferenceBackend {
    let device = "echo"
    let buckets = [Bucket(batch: 1, seq: 32), Bucket(batch: 8, seq: 32), Bucket(batch: 32, seq: 32),
                   Bucket(batch: 1, seq: 256), Bucket(batch: 8, seq: 256)]
    let dim: Int
    var used: [Bucket] = []

    init(dim: Int) { self.dim = dim }

    func run(_ batch: PaddedBatch) throws -> [[Float]] {
        used.append(batch.bucket)
        return (0..<batch.bucket.batch).map { r in
            var v = [Float](repeating: 0, count: dim)
            v[0] = Float(batch.attentionMask[(r * batch.bucket.seq)..<((r + 1) * batch.bucket.seq)].reduce(0, +))
            v[1] = 1
            return v
        }
    }
}

final class EmbedderTests: XCTestCase {
    func testInputOrderSmallestBucketsTruncationAndEmptyTexts() throws {
        let artifact = try Fixtures.artifact()
        let backend = EchoBackend(dim: artifact.manifest.dim)
        let embedder = try Embedder(artifact: artifact, backend: backend)
        let texts = ["one two three four", "hi", String(repeating: "word ", count: 100), ""]
        let out = try embedder.embed(texts)
        XCTAssertEqual(out.map { $0[0] }, texts.map { Float(artifact.tokenizer.encode($0).count) })
        // four texts fill less than 3/4 of a batch of 8: calls of one, each in the smallest length that holds it
        XCTAssertEqual(backend.used, [Bucket(batch: 1, seq: 32), Bucket(batch: 1, seq: 32), Bucket(batch: 1, seq: 32),
                                      Bucket(batch: 1, seq: 256)])
        backend.used = []  // six short texts and a long one: the short ones are not padded to the long one's length
        let mixed = Array(repeating: "hi", count: 6) + [String(repeating: "word ", count: 100)]
        XCTAssertEqual(try embedder.embed(mixed).map { $0[0] }, mixed.map { Float(artifact.tokenizer.encode($0).count) })
        XCTAssertEqual(backend.used, [Bucket(batch: 8, seq: 32), Bucket(batch: 1, seq: 256)])
        backend.used = []  // the 32-row signature only where the length has one
        XCTAssertEqual(try embedder.embed(Array(repeating: "hi", count: 33) + [String(repeating: "word ", count: 100)]).count, 34)
        XCTAssertEqual(backend.used, [Bucket(batch: 32, seq: 32), Bucket(batch: 1, seq: 32), Bucket(batch: 1, seq: 256)])
        let short = try XCTUnwrap(embedder.embed(["hi"], dim: 64).first)
        XCTAssertEqual(backend.used.last, Bucket(batch: 1, seq: 32))
        XCTAssertEqual(short.count, 64)
        XCTAssertEqual(Vectors.dot(short, short), 1, accuracy: 1e-6)
        XCTAssertEqual(try embedder.embed([]), [])
        assertThrows(["dim 7", "384, 256, 128, 64"]) { try embedder.embed(["hi"], dim: 7) }
        assertThrows(["unknown task 'query'", "none"]) { try embedder.embed(["hi"], task: "query") }
    }

    func testQueriesAndDocumentsGetTheirPromptsAndTitlesAsInPython() throws {
        let base = try Fixtures.artifact()
        let manifest = try Manifest.parse(Data("""
            {"format_version": 1, "name": "prompted", "source_model": "t", "architecture": "gemma3",
             "format": "tflite", "precision": "float32", "pooling": "mean", "normalize": true, "dim": 384,
             "matryoshka_dims": [384, 64], "max_seq_length": 256,
             "prompts": {"query": "task: search result | query: ", "document": "title: none | text: "},
             "files": {"model.tflite": {"sha256": "0"}, "tokenizer.json": {"sha256": "0"}}}
            """.utf8))
        let artifact = Artifact(directory: base.directory, manifest: manifest, tokenizer: base.tokenizer)
        let embedder = try Embedder(artifact: artifact, backend: EchoBackend(dim: 384))
        func tokens(_ text: String) -> Float { Float(base.tokenizer.encode(text).count) }
        XCTAssertEqual(embedder.queryPrompt, "task: search result | query: ")
        XCTAssertEqual(embedder.documentPrompt, "title: none | text: ")
        XCTAssertEqual(try embedder.embedQuery(["hi"]).map { $0[0] }, [tokens("task: search result | query: hi")])
        XCTAssertEqual(try embedder.embedDocuments(["hi", "hi", "hi"], titles: ["Paris", nil, ""]).map { $0[0] },
                       [tokens("title: Paris | text: hi"), tokens("title: none | text: hi"),
                        tokens("title: none | text: hi")])
        XCTAssertEqual(Embedder.withPrompt("", "hi", title: "Paris"), "Paris hi")
        XCTAssertEqual(Embedder.withPrompt("", "", title: "Paris"), "Paris")
        assertThrows(["1 titles for 2 texts"]) { try embedder.embedDocuments(["a", "b"], titles: ["t"]) }
        let plain = try Embedder(artifact: base, backend: EchoBackend(dim: base.manifest.dim))
        XCTAssertEqual(plain.queryPrompt, "")  // MiniLM has no prompts: queries embed as any text
        XCTAssertEqual(try plain.embedDocuments(["hi"], titles: ["Paris"]).map { $0[0] }, [tokens("Paris hi")])
    }

    func testTruncationReNormalisesOnlyForModelsThatNormalise() throws {
        let base = try Fixtures.artifact()
        func embedder(normalize: Bool) throws -> Embedder {
            let manifest = try Manifest.parse(Data("""
                {"format_version": 1, "name": "m", "source_model": "t", "architecture": "bert", "format": "tflite",
                 "precision": "float32", "pooling": "mean", "normalize": \(normalize), "dim": 384,
                 "matryoshka_dims": [384, 64], "max_seq_length": 256,
                 "files": {"model.tflite": {"sha256": "0"}, "tokenizer.json": {"sha256": "0"}}}
                """.utf8))
            let artifact = Artifact(directory: base.directory, manifest: manifest, tokenizer: base.tokenizer)
            return try Embedder(artifact: artifact, backend: EchoBackend(dim: 384))
        }
        let count = Float(base.tokenizer.encode("hi").count)  // the echo vector is (count, 1, 0, ...)
        XCTAssertEqual(Array(try embedder(normalize: false).embed(["hi"], dim: 64)[0].prefix(2)), [count, 1])
        XCTAssertEqual(Array(try embedder(normalize: true).embed(["hi"], dim: 384)[0].prefix(2)), [count, 1])
        let unit = try embedder(normalize: true).embed(["hi"], dim: 64)[0]
        XCTAssertEqual(Vectors.dot(unit, unit), 1, accuracy: 1e-6)
    }

    func testMatryoshkaTruncationMatchesThePythonRuntime() throws {
        let parity = try Fixtures.parity()
        XCTAssertEqual(parity.truncated.count, 16)
        for (i, expected) in parity.truncated.enumerated() {
            let mine = try Vectors.truncate(parity.embeddings[i], to: parity.truncatedDim)
            let diff = zip(mine, expected).map { abs($0 - $1) }.max() ?? 1
            XCTAssertLessThan(diff, 1e-6, "text \(i)")
        }
    }

    func testBucketsParseAndEachCallsBatchIsPythons() throws {
        let buckets = ["b1_s32", "b8_s32", "b1_s128", "b8_s128", "serving_default", "b0_s8"]
            .compactMap(Bucket.init(signature:))
        XCTAssertEqual(buckets, [Bucket(batch: 1, seq: 32), Bucket(batch: 8, seq: 32), Bucket(batch: 1, seq: 128),
                                 Bucket(batch: 8, seq: 128)])
        // the next call at one length, as Python's runtime makes it: (batch, texts it takes)
        func batchFor(_ batches: [Int], _ rows: Int) -> [Int] { let c = Bucket.batchFor(batches, rows: rows); return [c.batch, c.take] }
        XCTAssertEqual(batchFor([1, 8, 32], 40), [32, 32])
        XCTAssertEqual(batchFor([1, 8, 32], 20), [8, 8])  // under 3/4 of 32: calls of 8
        XCTAssertEqual(batchFor([1, 8], 7), [8, 7])  // 3/4 full: one call
        XCTAssertEqual(batchFor([1, 8], 4), [1, 1])  // less: calls of one
        XCTAssertEqual(batchFor([8], 1), [8, 1])  // no smaller batch: one padded call
        let batch = try PaddedBatch([[101, 7, 102]], padId: 0, bucket: Bucket(batch: 2, seq: 8))
        XCTAssertEqual(batch.inputIds, [101, 7, 102, 0, 0, 0, 0, 0] + [Int32](repeating: 0, count: 8))
        XCTAssertEqual(batch.attentionMask, [1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])  // filler rows stay valid
        assertThrows(["9 tokens", "holds 8"]) {
            try PaddedBatch([[Int32](repeating: 1, count: 9)], padId: 0, bucket: Bucket(batch: 1, seq: 8))
        }
    }

    func testInt8CodesAreThePythonStoresCodes() {
        let (scale, codes) = Vectors.quantizeInt8([127, -2.5, 3.5, 0.5, -0.5, 1.25])
        XCTAssertEqual(scale, 1)
        XCTAssertEqual(codes, [127, -2, 4, 0, 0, 1])  // halves round to even, as numpy.round does
    }
}
