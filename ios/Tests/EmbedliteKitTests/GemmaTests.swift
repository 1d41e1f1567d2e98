import EmbedliteLiteRT
import Foundation
import XCTest
@testable import EmbedliteKit

/// Every section of the EmbeddingGemma replica's parity.json through the Swift core and LiteRT: the Gemma 3 BPE
/// tokenizer, the query prompt and the document prompt's title slot, 2048-token texts (the MiniLM bundle's sections
/// are checked by the other test classes).
final class GemmaTests: XCTestCase {
    func testEverySectionOfTheGemmaBundleMatchesPython() throws {
        let artifact = try Artifact(directory: try Fixtures.gemmaBundle)  // checksums verified, NOTICE included
        let parity = try Parity.load(try Fixtures.gemmaBundle)
        XCTAssertEqual(parity.keys, Parity.sections)
        XCTAssertEqual(artifact.manifest.name, parity.model)
        XCTAssertEqual(artifact.manifest.maxSeqLength, parity.maxSeqLength)

        let tokenizer = artifact.tokenizer
        let wrong = parity.texts.indices.filter { tokenizer.encode(parity.texts[$0]) != parity.ids[$0] }
        XCTAssertTrue(wrong.isEmpty, "\(wrong.count) of \(parity.texts.count) texts differ, first: \(wrong.prefix(3))")

        let library = try LiteRtLibrary.load(path: Fixtures.directory("EMBEDLITE_LITERT_LIB").path)
        let backend = try LiteRtBackend(model: artifact.modelURL, accelerator: .cpu, library: library)
        let embedder = try Embedder(artifact: artifact, backend: backend)
        XCTAssertTrue(embedder.documentPrompt.contains(Embedder.titleSlot), embedder.documentPrompt)
        XCTAssertEqual(parity.promptedIds(parity.queries, prompt: embedder.queryPrompt, tokenizer: tokenizer),
                       parity.queries.ids, "queries")
        XCTAssertEqual(parity.promptedIds(parity.documents, prompt: embedder.documentPrompt, tokenizer: tokenizer),
                       parity.documents.ids, "documents")

        let texts = Array(parity.texts.prefix(parity.embeddings.count))
        let vectors = try embedder.embed(texts)
        assertSameVectors(parity.embeddings, vectors, "Gemma embeddings")
        assertSameVectors(parity.blankEmbeddings, try embedder.embed(Array(parity.texts.dropFirst(texts.count))),
                          "Gemma blank texts")
        assertSameVectors(parity.truncated, try embedder.embed(Array(texts.prefix(parity.truncated.count)),
                                                               dim: parity.truncatedDim), "Gemma truncated")
        assertSameVectors(parity.queries.embeddings, try embedder.embedQuery(Array(texts.prefix(parity.queries.count))),
                          "Gemma queries")
        assertSameVectors(parity.documents.embeddings,
                          try embedder.embedDocuments(Array(texts.prefix(parity.documents.count)),
                                                      titles: parity.documents.titles), "Gemma documents")

        for quantization in Quantization.allCases {
            let expected = parity.searches.filter { $0.quantization == quantization }.map(\.top10)
            XCTAssertFalse(expected.isEmpty)
            XCTAssertEqual(try parity.top10s(of: parity.embeddings, quantization, at: tempURL()), expected,
                           "\(quantization), Python's vectors")
            XCTAssertEqual(try parity.top10s(of: vectors, quantization, at: tempURL()), expected,
                           "\(quantization), Swift's vectors")
        }
        for tie in parity.storeTies {
            XCTAssertEqual(try Parity.replay(tie, at: tempURL()), tie.top10, "ties, \(tie.quantization)")
        }
    }
}
