import EmbedliteLiteRT
import Foundation
import XCTest
@testable import EmbedliteKit

/// Every section of a replica bundle's parity.json through the Swift core and LiteRT (the MiniLM bundle's sections
/// are checked by the other test classes): the EmbeddingGemma replica (Gemma 3 BPE tokenizer, the document prompt's
/// title slot, 2048-token texts) and the multilingual student (multilingual-e5's pruned SentencePiece Unigram
/// tokenizer, e5's prompts, texts in five languages and scripts).
final class ReplicaBundleTests: XCTestCase {
    func testEverySectionOfTheGemmaBundleMatchesPython() throws {
        try assertEverySectionMatchesPython(try Fixtures.gemmaBundle, "Gemma", titleSlot: true)
    }

    func testEverySectionOfTheMultilingualStudentBundleMatchesPython() throws {
        try assertEverySectionMatchesPython(try Fixtures.e5Bundle, "multilingual student", titleSlot: false)
    }

    private func assertEverySectionMatchesPython(_ bundle: URL, _ what: String, titleSlot: Bool) throws {
        let artifact = try Artifact(directory: bundle)  // checksums verified, NOTICE included
        let parity = try Parity.load(bundle)
        XCTAssertEqual(parity.keys, Parity.sections)
        XCTAssertEqual(artifact.manifest.name, parity.model)
        XCTAssertEqual(artifact.manifest.maxSeqLength, parity.maxSeqLength)

        let tokenizer = artifact.tokenizer
        let wrong = parity.texts.indices.filter { tokenizer.encode(parity.texts[$0]) != parity.ids[$0] }
        XCTAssertTrue(wrong.isEmpty, "\(what): \(wrong.count) of \(parity.texts.count) texts differ, first: \(wrong.prefix(3))")

        let library = try LiteRtLibrary.load(path: Fixtures.directory("EMBEDLITE_LITERT_LIB").path)
        let backend = try LiteRtBackend(model: artifact.modelURL, accelerator: .cpu, library: library)
        let embedder = try Embedder(artifact: artifact, backend: backend)
        XCTAssertEqual(embedder.documentPrompt.contains(Embedder.titleSlot), titleSlot, embedder.documentPrompt)
        XCTAssertEqual(parity.promptedIds(parity.queries, prompt: embedder.queryPrompt, tokenizer: tokenizer),
                       parity.queries.ids, "\(what) queries")
        XCTAssertEqual(parity.promptedIds(parity.documents, prompt: embedder.documentPrompt, tokenizer: tokenizer),
                       parity.documents.ids, "\(what) documents")

        let texts = Array(parity.texts.prefix(parity.embeddings.count))
        let vectors = try embedder.embed(texts)
        assertSameVectors(parity.embeddings, vectors, "\(what) embeddings")
        assertSameVectors(parity.blankEmbeddings, try embedder.embed(Array(parity.texts.dropFirst(texts.count))),
                          "\(what) blank texts")
        assertSameVectors(parity.truncated, try embedder.embed(Array(texts.prefix(parity.truncated.count)),
                                                               dim: parity.truncatedDim), "\(what) truncated")
        assertSameVectors(parity.queries.embeddings, try embedder.embedQuery(Array(texts.prefix(parity.queries.count))),
                          "\(what) queries")
        assertSameVectors(parity.documents.embeddings,
                          try embedder.embedDocuments(Array(texts.prefix(parity.documents.count)),
                                                      titles: parity.documents.titles), "\(what) documents")

        for quantization in Quantization.allCases {
            let expected = parity.searches.filter { $0.quantization == quantization }.map(\.top10)
            XCTAssertFalse(expected.isEmpty)
            XCTAssertEqual(try parity.top10s(of: parity.embeddings, quantization, at: tempURL()), expected,
                           "\(what), \(quantization), Python's vectors")
            XCTAssertEqual(try parity.top10s(of: vectors, quantization, at: tempURL()), expected,
                           "\(what), \(quantization), Swift's vectors")
        }
        for tie in parity.storeTies {
            XCTAssertEqual(try Parity.replay(tie, at: tempURL()), tie.top10, "\(what) ties, \(tie.quantization)")
        }
    }
}
