import Foundation
import XCTest
@testable import EmbedliteKit

/// What ios/run_tests.sh hands the tests: the MiniLM bundle (EMBEDLITE_IOS_BUNDLE: `embedlite export all-MiniLM-L6-v2
/// --target ios --parity-texts sts-test.csv`), the tokenizer fixtures (EMBEDLITE_TOKENIZER_FIXTURES, from
/// scripts/make_tokenizer_fixtures.py), LiteRT (EMBEDLITE_LITERT_LIB), the EmbeddingGemma replica
/// (EMBEDLITE_IOS_GEMMA_BUNDLE) and the multilingual student (EMBEDLITE_IOS_E5_BUNDLE). A test needing one that is
/// missing fails with a message naming it.
enum Fixtures {
    static func directory(_ variable: String) throws -> URL {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else {
            throw EmbedliteError.invalidInput("\(variable) is not set: run the tests with ios/run_tests.sh")
        }
        return URL(fileURLWithPath: value)
    }

    static var bundle: URL { get throws { try directory("EMBEDLITE_IOS_BUNDLE") } }

    /// The EmbeddingGemma replica the Kotlin runner makes (EMBEDLITE_IOS_GEMMA_BUNDLE): random weights, the Gemma 3
    /// tokenizer, EmbeddingGemma's prompts (a document prompt with a title slot), 2048 tokens.
    static var gemmaBundle: URL { get throws { try directory("EMBEDLITE_IOS_GEMMA_BUNDLE") } }

    /// The multilingual student the Kotlin runner makes (EMBEDLITE_IOS_E5_BUNDLE): random weights, multilingual-e5's
    /// SentencePiece (Unigram) tokenizer pruned to the stsb-multi-mt sentences, e5's prompts, 512 tokens.
    static var e5Bundle: URL { get throws { try directory("EMBEDLITE_IOS_E5_BUNDLE") } }

    /// The repository root (the golden store files live in the Kotlin core's test resources).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The bundle as an artifact, checksums verified, loaded once.
    static func artifact() throws -> Artifact { try cachedArtifact.get() }
    private static let cachedArtifact = cached { try Artifact(directory: try bundle) }

    static func parity() throws -> Parity { try cachedParity.get() }
    private static let cachedParity = cached { try Parity.load(try bundle) }

    /// A result computed once and shared by the tests (Sendable, so a static can hold it).
    private static func cached<T>(_ body: () throws -> T) -> Result<T, EmbedliteError> {
        do {
            return .success(try body())
        } catch let error as EmbedliteError {
            return .failure(error)
        } catch {
            return .failure(.invalidInput("\(error)"))
        }
    }

    static func json(_ url: URL) throws -> JSONTree {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw EmbedliteError.invalidInput("\(url.path) is missing")
        }
        return try JSONTree.parse([UInt8](data), name: url.lastPathComponent)
    }
}

extension XCTestCase {
    /// A path in a fresh temporary folder, removed when the test ends.
    func tempURL(_ name: String = "notes.store") -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("embedlite-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.appendingPathComponent(name)
    }
}

/// parity.json: what the Python runtime produced for the bundle's parity texts (converters/mobile_bundle.py).
struct Parity: Sendable {
    /// The sections the tests check; ParityTests fails when parity.json has another.
    static let sections: Set<String> = ["model", "max_seq_length", "texts", "ids", "embeddings", "blank_embeddings",
                                        "truncated", "queries", "documents", "searches", "store_ties"]

    struct Search: Sendable {
        let quantization: Quantization
        let query: [Float]
        let top10: [String]
    }

    /// Texts embedded with a prompt: `embed_query` (no titles) or `embed_documents(titles=)`.
    struct Prompted: Sendable {
        let count: Int
        let titles: [String?]
        let ids: [[Int32]]
        let embeddings: [[Float]]
    }

    /// Puts and deletes on a store, then one search: how equal scores rank.
    struct Ties: Sendable {
        struct Op: Sendable {
            let op: String
            let id: String
            let vector: [Float]?
        }

        let quantization: Quantization
        let ops: [Op]
        let query: [Float]
        let top10: [String]
    }

    let keys: Set<String>
    let model: String
    let maxSeqLength: Int
    let texts: [String]
    let ids: [[Int32]]
    let embeddings: [[Float]]  // embeddings[i] belongs to texts[i]; blank texts come last and have none
    let blankEmbeddings: [[Float]]  // the blank texts' (the texts after the embedded ones)
    let truncatedDim: Int
    let truncated: [[Float]]
    let queries: Prompted
    let documents: Prompted
    let searches: [Search]
    let storeTies: [Ties]

    static func load(_ bundle: URL) throws -> Parity {
        let root = try Fixtures.json(bundle.appendingPathComponent("parity.json"))
        let truncated = root["truncated"]
        return Parity(
            keys: Set((root.members ?? []).map { String(decoding: $0.key, as: UTF8.self) }),
            model: root["model"]?.string ?? "",
            maxSeqLength: root["max_seq_length"]?.int ?? 0,
            texts: strings(root["texts"]),
            ids: intRows(root["ids"]),
            embeddings: floatRows(root["embeddings"]),
            blankEmbeddings: floatRows(root["blank_embeddings"]),
            truncatedDim: truncated?["dim"]?.int ?? 0,
            truncated: floatRows(truncated?["embeddings"]),
            queries: prompted(root["queries"]),
            documents: prompted(root["documents"]),
            searches: (root["searches"]?.array ?? []).map {
                Search(quantization: quantization($0["quantization"]), query: floats($0["query"]),
                       top10: ($0["top10"]?.array ?? []).map { String($0.int ?? -1) })
            },
            storeTies: (root["store_ties"]?.array ?? []).map { tie in
                Ties(quantization: quantization(tie["quantization"]),
                     ops: (tie["ops"]?.array ?? []).map {
                         Ties.Op(op: $0["op"]?.string ?? "", id: $0["id"]?.string ?? "",
                                 vector: $0["vector"].map(floats))
                     },
                     query: floats(tie["query"]), top10: strings(tie["top10"]))
            })
    }

    private static func quantization(_ value: JSONTree?) -> Quantization {
        value?.string == "int8" ? .int8 : .float32
    }

    private static func prompted(_ value: JSONTree?) -> Prompted {
        let count = value?["count"]?.int ?? 0
        let titles = value?["titles"]?.array.map { $0.map(\.string) } ?? [String?](repeating: nil, count: count)
        return Prompted(count: count, titles: titles, ids: intRows(value?["ids"]),
                        embeddings: floatRows(value?["embeddings"]))
    }
}

extension Parity {
    /// The ids of the queries' or the documents' texts with `prompt` and their titles, as the Swift core makes them.
    func promptedIds(_ prompted: Prompted, prompt: String, tokenizer: any TextTokenizer) -> [[Int32]] {
        texts.prefix(prompted.count).enumerated().map {
            tokenizer.encode(Embedder.withPrompt(prompt, $0.element, title: prompted.titles[$0.offset]))
        }
    }

    /// The top-10 ids of Python's searches, asked of a store holding `vectors` under their index.
    func top10s(of vectors: [[Float]], _ quantization: Quantization, at url: URL) throws -> [[String]] {
        let store = try VectorStore(url: url, dim: vectors[0].count, quantization: quantization)
        try store.upsert(vectors.enumerated().map { (String($0.offset), $0.element, nil) })
        // Python's queries: blends of two stored vectors, rebuilt from `vectors`
        return try searches.filter { $0.quantization == quantization }.indices.map { q in
            let query = zip(vectors[q], vectors[vectors.count - 1 - q]).map { 0.7 * $0 + 0.3 * $1 }
            return try store.search(query, k: 10).map(\.id)
        }
    }

    /// A store_ties case replayed on a fresh store: the ids its search returns.
    static func replay(_ tie: Ties, at url: URL) throws -> [String] {
        let store = try VectorStore(url: url, dim: tie.query.count, quantization: tie.quantization)
        for op in tie.ops {
            if op.op == "delete" {
                try store.delete(op.id)
            } else {
                guard let vector = op.vector else { throw EmbedliteError.invalidInput("\(op.op) \(op.id): no vector") }
                try store.upsert(op.id, vector: vector)
            }
        }
        return try store.search(tie.query, k: 10).map(\.id)
    }
}

/// Python's vectors against Swift's: same count, and every pair's cosine at least `min`.
func assertSameVectors(_ expected: [[Float]], _ actual: [[Float]], _ what: String, min: Double = 0.9999,
                       file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertGreaterThan(expected.count, 0, what, file: file, line: line)
    XCTAssertEqual(actual.count, expected.count, what, file: file, line: line)
    let cosines = zip(actual, expected).map { cosine($0, $1) }
    guard let worst = cosines.indices.min(by: { cosines[$0] < cosines[$1] }) else { return }
    XCTAssertGreaterThanOrEqual(cosines[worst], min, "\(what): vector \(worst)", file: file, line: line)
    print("  \(what): \(expected.count) vectors, min cosine \(cosines[worst])")
}

func strings(_ value: JSONTree?) -> [String] { (value?.array ?? []).map { $0.string ?? "" } }
func floats(_ value: JSONTree?) -> [Float] { (value?.array ?? []).map { Float($0.double ?? .nan) } }
func floatRows(_ value: JSONTree?) -> [[Float]] { (value?.array ?? []).map(floats) }
func intRows(_ value: JSONTree?) -> [[Int32]] {
    (value?.array ?? []).map { ($0.array ?? []).map { Int32($0.int ?? -1) } }
}

func cosine(_ a: [Float], _ b: [Float]) -> Double {
    var dot = 0.0, na = 0.0, nb = 0.0
    for i in a.indices {
        dot += Double(a[i]) * Double(b[i])
        na += Double(a[i]) * Double(a[i])
        nb += Double(b[i]) * Double(b[i])
    }
    return dot / (na.squareRoot() * nb.squareRoot())
}

/// Asserts that `body` throws an EmbedliteError whose message contains every fragment.
func assertThrows<T>(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("nothing was thrown; expected an error mentioning \(fragments)", file: file, line: line)
    } catch let error as EmbedliteError {
        for fragment in fragments where !error.message.contains(fragment) {
            XCTFail("'\(error.message)' does not mention '\(fragment)'", file: file, line: line)
        }
    } catch {
        XCTFail("expected an EmbedliteError, got \(error)", file: file, line: line)
    }
}
