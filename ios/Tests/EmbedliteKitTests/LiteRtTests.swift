import EmbedliteLiteRT
import Foundation
import XCTest
@testable import EmbedliteKit

/// The Swift pipeline on the real int8 TFLite MiniLM through LiteRT's C API (the ai-edge-litert wheel's libLiteRt.so).
final class LiteRtTests: XCTestCase {
    private func library() throws -> LiteRtLibrary {
        try LiteRtLibrary.load(path: Fixtures.directory("EMBEDLITE_LITERT_LIB").path)
    }

    func testEmbeddingsMatchThePythonRuntimeOnEveryParityText() throws {
        let artifact = try Fixtures.artifact()
        let parity = try Fixtures.parity()
        let backend = try LiteRtBackend(model: artifact.modelURL, accelerator: .cpu, library: library())
        XCTAssertEqual(backend.buckets.map(\.signature).sorted(),
                       ["b1_s128", "b1_s16", "b1_s24", "b1_s256", "b1_s32", "b1_s48", "b1_s64",
                        "b32_s16", "b32_s24", "b32_s32", "b32_s48", "b32_s64",
                        "b8_s128", "b8_s16", "b8_s24", "b8_s256", "b8_s32", "b8_s48", "b8_s64"])
        let embedder = try Embedder(artifact: artifact, backend: backend)
        XCTAssertEqual(embedder.device, "LiteRT CPU (XNNPACK)")
        let texts = Array(parity.texts.prefix(parity.embeddings.count))
        XCTAssertGreaterThan(texts.count, 2500)
        let vectors = try embedder.embed(texts)
        let cosines = zip(vectors, parity.embeddings).map { cosine($0, $1) }
        let worst = cosines.indices.min { cosines[$0] < cosines[$1] }!
        XCTAssertGreaterThanOrEqual(cosines[worst], 0.9999, "text \(worst): '\(texts[worst].prefix(60))'")
        print("  LiteRT CPU: \(texts.count) texts, min cosine to the Python runtime \(cosines[worst]), "
              + "mean \(cosines.reduce(0, +) / Double(cosines.count))")

        let truncated = try embedder.embed(Array(texts.prefix(parity.truncated.count)), dim: parity.truncatedDim)
        for (i, row) in truncated.enumerated() {
            XCTAssertEqual(row.count, parity.truncatedDim)
            XCTAssertGreaterThanOrEqual(cosine(row, parity.truncated[i]), 0.9999, "truncated text \(i)")
        }
        let empty = try XCTUnwrap(embedder.embed([""]).first)  // "" is a valid text, as in Python
        XCTAssertEqual(Vectors.dot(empty, empty), 1, accuracy: 1e-4)
    }

    func testQueriesDocumentsAndBlankTextsMatchThePythonRuntime() throws {
        let artifact = try Fixtures.artifact()
        let parity = try Fixtures.parity()
        let backend = try LiteRtBackend(model: artifact.modelURL, accelerator: .cpu, library: library())
        let embedder = try Embedder(artifact: artifact, backend: backend)
        let checks: [(String, [[Float]], [[Float]])] = [
            ("queries", parity.queries.embeddings,
             try embedder.embedQuery(Array(parity.texts.prefix(parity.queries.count)))),
            ("documents", parity.documents.embeddings,
             try embedder.embedDocuments(Array(parity.texts.prefix(parity.documents.count)),
                                         titles: parity.documents.titles)),
            ("blank texts", parity.blankEmbeddings,
             try embedder.embed(Array(parity.texts.dropFirst(parity.embeddings.count)))),
        ]
        for (name, expected, mine) in checks { assertSameVectors(expected, mine, name) }
    }

    func testGpuAndNpuEitherRunOrSayWhatIsMissing() throws {
        let artifact = try Fixtures.artifact()
        for (accelerator, name) in [(Accelerator.gpu, "GPU"), (.npu, "NPU")] {
            do {
                let backend = try LiteRtBackend(model: artifact.modelURL, accelerator: accelerator, library: library())
                let vector = try Embedder(artifact: artifact, backend: backend).embed(["a test sentence"])[0]
                XCTAssertEqual(Vectors.dot(vector, vector), 1, accuracy: 1e-3)
            } catch EmbedliteError.runtime(let message) {
                XCTAssertTrue(message.contains(name) && message.contains("use .cpu"), message)
                print("  \(accelerator): \(message)")
            }
        }
        let (fallback, skipped) = try LiteRtBackend.firstAvailable(model: artifact.modelURL, order: [.npu, .cpu],
                                                                   library: library())
        XCTAssertEqual(fallback.accelerator, skipped.isEmpty ? .npu : .cpu)
    }

    func testMissingLibraryAndBadModelFilesAreClearErrors() throws {
        assertThrows(["/nowhere/libLiteRt.so"]) { try LiteRtLibrary.load(path: "/nowhere/libLiteRt.so") }
        let bogus = tempURL("model.tflite")
        try Data("not a flatbuffer".utf8).write(to: bogus)
        assertThrows(["model.tflite could not be loaded by LiteRT"]) {
            try LiteRtBackend(model: bogus, library: library())
        }
    }
}
