import Foundation
import XCTest
@testable import EmbedliteKit

/// Manifest parsing and file checks on small artifacts made here (the real tokenizer.json, a stand-in model file).
final class ArtifactTests: XCTestCase {
    private func makeArtifact(manifest edit: (inout [String: Any]) -> Void = { _ in }) throws -> URL {
        let dir = tempURL("artifact")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tokenizer = try Data(contentsOf: Fixtures.bundle.appendingPathComponent("tokenizer.json"))
        let model = Data("stand-in model bytes".utf8)
        try tokenizer.write(to: dir.appendingPathComponent("tokenizer.json"))
        try model.write(to: dir.appendingPathComponent("model.tflite"))
        func entry(_ url: URL, _ data: Data) throws -> [String: Any] {
            ["sha256": try SHA256.hexDigest(of: url), "bytes": data.count]
        }
        var manifest: [String: Any] = [
            "format_version": 1, "name": "tiny", "source_model": "test", "architecture": "bert", "format": "tflite",
            "precision": "int8", "pooling": "mean", "normalize": true, "dim": 8, "matryoshka_dims": [8, 4],
            "max_seq_length": 32, "prompts": ["query": "query: "], "default_task": NSNull(),
            "files": ["tokenizer.json": try entry(dir.appendingPathComponent("tokenizer.json"), tokenizer),
                      "model.tflite": try entry(dir.appendingPathComponent("model.tflite"), model)],
        ]
        edit(&manifest)
        try JSONSerialization.data(withJSONObject: manifest).write(to: dir.appendingPathComponent("manifest.json"))
        return dir
    }

    func testAGoodArtifactLoadsWithItsChecksumsVerified() throws {
        let artifact = try Artifact(directory: makeArtifact())
        XCTAssertEqual(artifact.manifest.dims, [8, 4])
        XCTAssertEqual(artifact.manifest.prompts, ["query": "query: "])
        XCTAssertEqual(artifact.tokenizer.maxLength, 32)
        XCTAssertEqual(artifact.modelURL.lastPathComponent, "model.tflite")
    }

    func testSHA256MatchesKnownDigests() throws {
        let url = tempURL("abc")
        try Data("abc".utf8).write(to: url)
        XCTAssertEqual(try SHA256.hexDigest(of: url),
                       "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        try Data(repeating: 0x61, count: 1_000_000).write(to: url)  // crosses block and read boundaries
        XCTAssertEqual(try SHA256.hexDigest(of: url),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testBadManifestsAreRefusedNamingTheProblem() throws {
        assertThrows(["format_version 2", "reads version 1"]) {
            try Artifact(directory: makeArtifact { $0["format_version"] = 2 })
        }
        assertThrows(["lacks the fields", "dim", "pooling"]) {
            try Artifact(directory: makeArtifact { $0["dim"] = nil; $0["pooling"] = nil })
        }
        assertThrows(["max_seq_length"]) { try Artifact(directory: makeArtifact { $0["max_seq_length"] = "long" }) }
        assertThrows(["unknown format 'mlmodel'"]) {
            try Artifact(directory: makeArtifact { $0["format"] = "mlmodel" })
        }
        assertThrows(["does not list model.tflite"]) {
            try Artifact(directory: makeArtifact { $0["files"] = ["tokenizer.json": ["sha256": "0"]] })
        }
        let dir = try makeArtifact()
        try Data("{ not json".utf8).write(to: dir.appendingPathComponent("manifest.json"))
        assertThrows(["manifest.json is not valid JSON"]) { try Artifact(directory: dir) }
        assertThrows(["not a directory"]) { try Artifact(directory: dir.appendingPathComponent("nowhere")) }
    }

    func testCorruptOrTruncatedFilesAreNamed() throws {
        let dir = try makeArtifact()
        try Data("stand-in model bytez".utf8).write(to: dir.appendingPathComponent("model.tflite"))
        assertThrows(["model.tflite fails its sha256 check"]) { try Artifact(directory: dir) }
        XCTAssertNoThrow(try Artifact(directory: dir, verify: false))
        try Data("short".utf8).write(to: dir.appendingPathComponent("model.tflite"))
        assertThrows(["model.tflite is 5 bytes", "truncated"]) { try Artifact(directory: dir) }
        let other = try makeArtifact()
        try FileManager.default.removeItem(at: other.appendingPathComponent("tokenizer.json"))
        assertThrows(["tokenizer.json is missing"]) { try Artifact(directory: other) }
        assertThrows(["names '../secret'", "outside the artifact directory"]) {
            try Artifact(directory: makeArtifact {
                var files = $0["files"] as? [String: Any] ?? [:]
                files["../secret"] = ["sha256": "0"]
                $0["files"] = files
            })
        }
    }
}
