import Foundation
import XCTest
@testable import EmbedliteKit

final class StoreTests: XCTestCase {
    func testSameTop10AsPythonVectorStore() throws {
        let parity = try Fixtures.parity()
        for quantization in Quantization.allCases {
            let store = try VectorStore(url: tempURL(), dim: parity.embeddings[0].count, quantization: quantization)
            try store.upsert(parity.embeddings.enumerated().map { (String($0.offset), $0.element, nil) })
            let searches = parity.searches.filter { $0.quantization == quantization }
            XCTAssertFalse(searches.isEmpty)
            for (n, search) in searches.enumerated() {
                XCTAssertEqual(try store.search(search.query, k: 10).map(\.id), search.top10,
                               "\(quantization) query \(n)")
            }
        }
    }

    /// The golden files were written by the Kotlin core (its CoreTests checks the same bytes): Swift writes them
    /// byte for byte and reads them back, so a store moves between the two phones' apps.
    func testKotlinGoldenFilesAreWhatThisStoreWritesAndTheyOpen() throws {
        for quantization in Quantization.allCases {
            let golden = Fixtures.repository.appendingPathComponent(
                "android_demo/core/src/test/resources/golden-\(quantization).store")
            let expected = try Data(contentsOf: golden)
            let url = tempURL()
            let store = try VectorStore(url: url, dim: 4, quantization: quantization)
            try store.upsert("alpha", vector: [0.5, -1, 2, 0.25], text: "first note")
            try store.upsert("beta", vector: [1, 0, 0, 0])
            try store.upsert("gamma", vector: [0, 3, 0, 4], text: "ünïcödé ✓ 東京 😀")
            try store.upsert("alpha", vector: [1, 1, 1, 1], text: "first note, edited")
            try store.delete("beta")
            try store.upsert("empty", vector: [0, 0, 1e-3, 0], text: "")
            store.close()
            XCTAssertEqual(try Data(contentsOf: url), expected,
                           "\(quantization): other bytes than \(golden.lastPathComponent)")

            let copy = tempURL()
            try expected.write(to: copy)
            let read = try VectorStore(url: copy, dim: 4, quantization: quantization)
            XCTAssertEqual(read.ids, ["alpha", "gamma", "empty"])  // the upsert kept alpha's place
            XCTAssertEqual(read.text(of: "alpha"), "first note, edited")
            XCTAssertEqual(read.text(of: "gamma"), "ünïcödé ✓ 東京 😀")
            XCTAssertEqual(read.text(of: "empty"), "")
            XCTAssertNil(read.text(of: "beta"))
            XCTAssertEqual(try read.search([1, 1, 1, 1], k: 1).first?.id, "alpha")
        }
    }

    func testRecordsSurviveReopeningUpsertKeepsPlaceDeleteRemoves() throws {
        let url = tempURL()
        do {
            let s = try VectorStore(url: url, dim: 4)
            try s.upsert("a", vector: [1, 0, 0, 0], text: "first")
            try s.upsert("b", vector: [0, 1, 0, 0], text: "second")
            try s.upsert("c", vector: [0, 0, 0, 1])
            try s.upsert("a", vector: [0, 0, 1, 0], text: "first, edited")
            XCTAssertTrue(try s.delete("b"))
            XCTAssertFalse(try s.delete("b"))
            try s.upsert("b", vector: [0, 1, 0, 0], text: "back")  // a re-insert goes last, as a new SQLite rowid
        }
        let s = try VectorStore(url: url, dim: 4)
        XCTAssertEqual(s.ids, ["a", "c", "b"])
        XCTAssertEqual(s.text(of: "a"), "first, edited")
        XCTAssertNil(s.text(of: "c"))
        XCTAssertEqual(try s.search([0, 0, 2, 0], k: 1).map(\.id), ["a"])
    }

    func testTiesGoToTheEarlierRecordAndAnUpsertKeepsItsRank() throws {
        let s = try VectorStore(url: tempURL(), dim: 2, quantization: .int8)
        for id in ["x", "y", "z"] { try s.upsert(id, vector: [1, 1]) }
        try s.upsert("w", vector: [1, 0])
        XCTAssertEqual(try s.search([1, 1], k: 3).map(\.id), ["x", "y", "z"])
        try s.upsert("x", vector: [2, 2], text: "same direction, replaced")
        XCTAssertEqual(try s.search([1, 1], k: 4).map(\.id), ["x", "y", "z", "w"])
    }

    func testIdsAreBytesNotCanonicalEquivalents() throws {
        let s = try VectorStore(url: tempURL(), dim: 2)
        try s.upsert("caf\u{e9}", vector: [1, 0], text: "composed")
        try s.upsert("cafe\u{301}", vector: [0, 1], text: "decomposed")
        XCTAssertEqual(s.count, 2)
        XCTAssertEqual(s.text(of: "cafe\u{301}"), "decomposed")
    }

    func testATornLastWriteIsDroppedEveryEarlierRecordKept() throws {
        let url = tempURL()
        do {
            let s = try VectorStore(url: url, dim: 4)
            for i in 0..<10 { try s.upsert("id\(i)", vector: [1, Float(i), 0, 0]) }
        }
        let handle = try FileHandle(forWritingTo: url)
        let size = try handle.seekToEnd()
        try handle.truncate(atOffset: size - 5)  // a crash in the middle of the last write
        try handle.close()
        do {
            let s = try VectorStore(url: url, dim: 4)
            XCTAssertEqual(s.ids, (0..<9).map { "id\($0)" })
            try s.upsert("after", vector: [0, 0, 0, 1])
        }
        let appended = try FileHandle(forWritingTo: url)
        try appended.seekToEnd()
        try appended.write(contentsOf: Data([0, 0, 0, 9, 1, 2, 3, 4, 5, 6, 7]))  // a frame whose CRC does not match
        try appended.close()
        XCTAssertEqual(try VectorStore(url: url, dim: 4).ids.last, "after")
        XCTAssertEqual(try VectorStore(url: url, dim: 4).count, 10)
    }

    func testCompactionKeepsTheLiveRecordsInPlace() throws {
        let url = tempURL()
        do {
            let s = try VectorStore(url: url, dim: 2, quantization: .int8)
            for i in 0..<200 { try s.upsert("k\(i % 5)", vector: [1, Float(i)]) }
        }
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
        XCTAssertLessThan(size, 200 * 29 / 2, "file is \(size) bytes after compaction")  // 200 puts are 29 bytes each
        XCTAssertEqual(try VectorStore(url: url, dim: 2, quantization: .int8).ids, ["k0", "k1", "k2", "k3", "k4"])
    }

    func testBadInputIsRefusedAndNothingStoredIsLost() throws {
        let url = tempURL()
        do {
            let s = try VectorStore(url: url, dim: 3)
            try s.upsert("keep", vector: [1, 2, 3])
            assertThrows(["dim 2", "dim 3"]) { try s.upsert("x", vector: [1, 2]) }
            assertThrows(["nan", "index 1"]) { try s.upsert("x", vector: [1, .nan, 0]) }
            assertThrows(["inf"]) { try s.search([1, .infinity, 0]) }
            assertThrows(["zero vector"]) { try s.upsert("x", vector: [0, 0, 0]) }
            assertThrows(["non-empty"]) { try s.upsert("", vector: [1, 0, 0]) }
            assertThrows(["query has dim 1"]) { try s.search([1], k: 3) }
            assertThrows(["k must be positive"]) { try s.search([1, 0, 0], k: 0) }
        }
        do {
            let s = try VectorStore(url: url, dim: 3)
            assertThrows(["record 1", "nan"]) { try s.upsert([("y", [1, 0, 0], nil), ("z", [.nan, 0, 0], "bad")]) }
            assertThrows(["id 'y' repeats"]) { try s.upsert([("y", [1, 0, 0], nil), ("y", [0, 1, 0], nil)]) }
            XCTAssertEqual(s.ids, ["keep"])  // a batch with a bad record writes nothing
        }
        assertThrows(["holds dim 3 float32", "opened as dim 4"]) { try VectorStore(url: url, dim: 4) }
        assertThrows(["holds dim 3 float32", "int8"]) { try VectorStore(url: url, dim: 3, quantization: .int8) }
        let other = tempURL()
        try Data("not a store at all, but long enough".utf8).write(to: other)
        assertThrows(["not an embedlite note store"]) { try VectorStore(url: other, dim: 3) }
        XCTAssertEqual(try VectorStore(url: url, dim: 3).ids, ["keep"])
    }
}
