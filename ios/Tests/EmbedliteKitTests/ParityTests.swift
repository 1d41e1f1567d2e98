import Foundation
import XCTest
@testable import EmbedliteKit

/// The sections of parity.json that need no model run: the section list itself, the manifest, prompted ids and
/// how the store ranks equal scores (texts, ids and searches are in TokenizerTests and StoreTests; embeddings,
/// blank texts, truncation, queries and documents through LiteRT in LiteRtTests).
final class ParityTests: XCTestCase {
    func testEverySectionOfParityJsonHasATest() throws {
        XCTAssertEqual(try Fixtures.parity().keys, Parity.sections)
    }

    func testManifestNameAndMaxLengthArePythons() throws {
        let parity = try Fixtures.parity()
        let manifest = try Fixtures.artifact().manifest
        XCTAssertEqual(manifest.name, parity.model)
        XCTAssertEqual(manifest.maxSeqLength, parity.maxSeqLength)
    }

    func testQueryAndTitledDocumentIdsEqualPythons() throws {
        let parity = try Fixtures.parity()
        let artifact = try Fixtures.artifact()
        let embedder = try Embedder(artifact: artifact, backend: EchoBackend(dim: artifact.manifest.dim))
        for (name, prompted, prompt) in [("queries", parity.queries, embedder.queryPrompt),
                                         ("documents", parity.documents, embedder.documentPrompt)] {
            XCTAssertGreaterThan(prompted.count, 0, name)
            XCTAssertEqual(prompted.titles.count, prompted.count, name)
            XCTAssertEqual(parity.promptedIds(prompted, prompt: prompt, tokenizer: artifact.tokenizer), prompted.ids,
                           name)
        }
        XCTAssertTrue(parity.documents.titles.contains { $0 != nil })  // titles are exercised, not all nil
    }

    func testTiesAfterUpsertsAndDeletesRankAsPythonsStore() throws {
        let parity = try Fixtures.parity()
        XCTAssertEqual(Set(parity.storeTies.map(\.quantization)), Set(Quantization.allCases))
        for tie in parity.storeTies {
            XCTAssertEqual(try Parity.replay(tie, at: tempURL()), tie.top10, "\(tie.quantization)")
        }
    }
}
