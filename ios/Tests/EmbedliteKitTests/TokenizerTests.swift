import Foundation
import XCTest
@testable import EmbedliteKit

/// Token ids identical to Hugging Face `tokenizers` (what the Python runtime uses), text by text.
final class TokenizerTests: XCTestCase {
    private func assertSameIds(_ tokenizer: any TextTokenizer, _ texts: [String], _ expected: [[Int32]],
                               _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(texts.count, expected.count, file: file, line: line)
        let wrong = texts.indices.filter { tokenizer.encode(texts[$0]) != expected[$0] }
        let examples = wrong.prefix(3).map { i in
            "'\(texts[i].prefix(60))' -> \(tokenizer.encode(texts[i]).prefix(16)) expected \(expected[i].prefix(16))"
        }
        XCTAssertTrue(wrong.isEmpty, "\(what): \(wrong.count) of \(texts.count) texts differ, first: \(examples)",
                      file: file, line: line)
        print("  \(what): \(texts.count) texts, \(texts.count - wrong.count) identical")
    }

    func testMiniLMIdsEqualPythonOnEveryParityText() throws {
        let parity = try Fixtures.parity()
        XCTAssertGreaterThan(parity.texts.count, 2500)  // every STS-B test sentence, plus edge cases
        assertSameIds(try Fixtures.artifact().tokenizer, parity.texts, parity.ids, "MiniLM, parity texts")
    }

    /// A section of the shared expected.json (scripts/make_tokenizer_fixtures.py, which the Kotlin core's tests read
    /// too): its tokenizer (SECTION/tokenizer.json) gives Python's ids on every text and cuts at max_length.
    @discardableResult
    private func assertSection(_ section: String, atLeast count: Int, file: StaticString = #filePath,
                               line: UInt = #line) throws -> any TextTokenizer {
        let fixtures = try Fixtures.directory("EMBEDLITE_TOKENIZER_FIXTURES")
        let expected = try Fixtures.json(fixtures.appendingPathComponent("expected.json"))[section]
        let maxLength = try XCTUnwrap(expected?["max_length"]?.int, "\(section): no max_length", file: file, line: line)
        let tokenizer = try loadTokenizer(fixtures.appendingPathComponent("\(section)/tokenizer.json"),
                                          maxLength: maxLength)
        let texts = strings(expected?["texts"])
        XCTAssertGreaterThanOrEqual(texts.count, count, section, file: file, line: line)
        assertSameIds(tokenizer, texts, intRows(expected?["ids"]), section, file: file, line: line)
        XCTAssertEqual(tokenizer.encode(String(repeating: "embedding ", count: 3000)).count, maxLength, section,
                       file: file, line: line)
        return tokenizer
    }

    func testEveryTokenizerTheCoreSupportsHasAFixtureSection() throws {
        let fixtures = try Fixtures.directory("EMBEDLITE_TOKENIZER_FIXTURES")
        let sections = try Fixtures.json(fixtures.appendingPathComponent("expected.json")).members ?? []
        XCTAssertEqual(Set(sections.map { String(decoding: $0.key, as: UTF8.self) }),
                       ["gemma", "minilm", "e5", "e5_student"])
    }

    func testMiniLMIdsEqualPythonOnHardCases() throws {
        let tokenizer = try assertSection("minilm", atLeast: 30)
        XCTAssertEqual(tokenizer.maxLength, try Fixtures.artifact().tokenizer.maxLength)
    }

    func testGemmaIdsEqualPythonOnEveryParityTextAndHardCases() throws {
        let tokenizer = try assertSection("gemma", atLeast: 2500)
        XCTAssertEqual(tokenizer.padId, 0)
        let long = tokenizer.encode(String(repeating: "embedding ", count: 3000))
        XCTAssertEqual(long.first, 2)  // <bos>
        XCTAssertEqual(long.last, 1)  // <eos>
    }

    /// multilingual-e5-small's SentencePiece Unigram (XLM-R's 250,002 pieces, Precompiled charsmap, Metaspace) on
    /// every sentence of the stsb-multi-mt test files (de, es, fr, ja, zh), their NFD forms and the hard cases.
    func testMultilingualE5IdsEqualPythonOnEveryMultilingualTestSentenceAndHardCases() throws {
        let tokenizer = try assertSection("e5", atLeast: 13000)
        XCTAssertEqual(tokenizer.padId, 1)  // <pad>
        XCTAssertEqual(tokenizer.encode(""), [0, 2])  // <s> </s>
    }

    /// The same tokenizer pruned to a corpus (training.vocabulary): other scores, unknown characters, renumbered ids.
    func testPrunedMultilingualStudentIdsEqualPythonOnHardCases() throws {
        try assertSection("e5_student", atLeast: 50)
    }

    func testLongTextsAreCutToMaxLengthEndingWithSep() throws {
        let tokenizer = try Fixtures.artifact().tokenizer
        let ids = tokenizer.encode(String(repeating: "embedding ", count: 1000))
        XCTAssertEqual(ids.count, tokenizer.maxLength)
        XCTAssertEqual(ids.last, tokenizer.encode("x").last)
        XCTAssertEqual(tokenizer.encode(""), [101, 102])  // an empty text is [CLS] [SEP], as in Python
    }

    func testBPEMergesLowestRankFirstAndFallsBackToBytes() throws {
        // vocab: a b c ab bc abc; merges "b c" (rank 0) before "a b" (rank 1): "abc" -> a + bc, then no merge left
        let json = """
        {"model": {"type": "BPE", "vocab": {"<unk>": 0, "a": 1, "b": 2, "c": 3, "ab": 4, "bc": 5, "<0xC3>": 6,
          "<0xA9>": 7, "▁": 8}, "merges": [["b", "c"], ["a", "b"]], "byte_fallback": true, "unk_token": "<unk>"},
         "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "▁"},
         "added_tokens": [{"id": 9, "content": "<x>", "special": true}]}
        """
        let tokenizer = try loadTokenizer(json: Array(json.utf8), name: "bpe.json", maxLength: 16)
        XCTAssertEqual(tokenizer.encode("abc"), [1, 5])
        XCTAssertEqual(tokenizer.encode("ab é"), [4, 8, 6, 7])  // é is not in the vocabulary: its two bytes
        XCTAssertEqual(tokenizer.encode("a<x>b"), [1, 9, 2])
    }

    func testUnigramTakesTheBestScoringPathAndFusesUnknownCharacters() throws {
        // "abc": ab + c (-1 - 2) beats a + bc (-2 - 2); x and y are in no piece: one <unk>, as in `tokenizers`
        let json = """
        {"model": {"type": "Unigram", "unk_id": 0, "vocab": [["<unk>", 0.0], ["▁", -1.0], ["a", -2.0], ["b", -2.0],
          ["c", -2.0], ["ab", -1.0], ["bc", -2.0], ["▁abc", -9.0]]},
         "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true},
         "normalizer": {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}}
        """
        let tokenizer = try loadTokenizer(json: Array(json.utf8), name: "unigram.json", maxLength: 16)
        XCTAssertEqual(tokenizer.encode("abc"), [1, 5, 4])
        XCTAssertEqual(tokenizer.encode("xyab   c"), [1, 0, 5, 1, 4])
        assertThrows(["unigram.json", "unk_id"]) {
            try loadTokenizer(json: Array(#"{"model": {"type": "Unigram", "vocab": [["a", 0.0]]}}"#.utf8),
                              name: "unigram.json", maxLength: 8)
        }
    }

    func testUnsupportedOrBrokenTokenizersAreRefusedByName() {
        assertThrows(["tok.json", "WordLevel"]) {
            try loadTokenizer(json: Array(#"{"model": {"type": "WordLevel"}}"#.utf8), name: "tok.json", maxLength: 8)
        }
        assertThrows(["tok.json", "byte 14"]) {
            try loadTokenizer(json: Array(#"{"model": {"ty"#.utf8), name: "tok.json", maxLength: 8)
        }
        assertThrows(["lstrip"]) {
            try loadTokenizer(json: Array("""
            {"model": {"type": "WordPiece", "vocab": {"[UNK]": 0}, "unk_token": "[UNK]"},
             "added_tokens": [{"id": 0, "content": "[UNK]", "lstrip": true}]}
            """.utf8), name: "tok.json", maxLength: 8)
        }
    }

    func testJSONEscapesSurrogatesAndErrors() throws {
        let source = #"{"a": [1, -2.5e3, true, null], "s": "q\"\\\u00e9\n\ud83d\ude00", "o": {}}"#
        let v = try JSONTree.parse(Array(source.utf8), name: "t.json")
        XCTAssertEqual(v["a"]?.array?.map { $0.double }, [1, -2500, nil, nil])
        XCTAssertEqual(v["s"]?.string, "q\"\\é\n😀")
        // canonically equivalent keys stay distinct
        let keys = try JSONTree.parse(Array("{\"\u{e9}\": 1, \"e\u{301}\": 2}".utf8), name: "t.json").members
        XCTAssertEqual(keys?.count, 2)
        XCTAssertNotEqual(keys?[0].key, keys?[1].key)
        assertThrows(["t.json", "byte"]) { try JSONTree.parse(Array(#"{"a": [1, 2}"#.utf8), name: "t.json") }
    }
}
