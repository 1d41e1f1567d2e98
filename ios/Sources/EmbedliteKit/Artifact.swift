import Foundation

/// An embedlite artifact directory: manifest.json, the model file and tokenizer.json, checked as the Python
/// runtime checks them (format version, fields, each listed file's size and sha256).
public struct Artifact: Sendable {
    public let directory: URL
    public let manifest: Manifest
    public let tokenizer: any TextTokenizer

    /// The model file (model.tflite for the LiteRT backend).
    public var modelURL: URL { directory.appendingPathComponent(manifest.modelFile) }

    /// Loads and checks an artifact; `verify` recomputes every listed file's sha256 (seconds for a large model).
    public init(directory: URL, verify: Bool = true) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw EmbedliteError.invalidArtifact("model artifact not found: \(directory.path) is not a directory")
        }
        let manifestURL = directory.appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: manifestURL.path) else {
            throw EmbedliteError.invalidArtifact("\(manifestURL.path) is missing: not an embedlite model artifact")
        }
        let manifest = try Manifest.parse(data)
        if verify { try Artifact.verifyFiles(directory, manifest) }
        self.directory = directory
        self.manifest = manifest
        self.tokenizer = try loadTokenizer(directory.appendingPathComponent("tokenizer.json"),
                                           maxLength: manifest.maxSeqLength)
    }

    /// An artifact already checked elsewhere (tests build one around another manifest).
    init(directory: URL, manifest: Manifest, tokenizer: any TextTokenizer) {
        self.directory = directory
        self.manifest = manifest
        self.tokenizer = tokenizer
    }

    private static func verifyFiles(_ directory: URL, _ manifest: Manifest) throws {
        let root = directory.resolvingSymlinksInPath().standardizedFileURL.path
        for (name, entry) in manifest.files.sorted(by: { $0.key < $1.key }) {
            let url = directory.appendingPathComponent(name)
            // a manifest names files of its own directory: "../x", or a link leading out, is refused (as in Python)
            let resolved = url.resolvingSymlinksInPath().standardizedFileURL.path
            guard !name.hasPrefix("/"), resolved.hasPrefix(root.hasSuffix("/") ? root : root + "/") else {
                throw EmbedliteError.invalidArtifact(
                    "\(directory.appendingPathComponent("manifest.json").path) names '\(name)', "
                        + "which is outside the artifact directory")
            }
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path),
                  let size = (attributes[.size] as? NSNumber)?.intValue else {
                throw EmbedliteError.invalidArtifact("\(url.path) is missing from the model artifact")
            }
            if let expected = entry.bytes, size != expected {
                throw EmbedliteError.invalidArtifact(
                    "\(url.path) is \(size) bytes, the manifest says \(expected): truncated or replaced")
            }
            guard try SHA256.hexDigest(of: url) == entry.sha256.lowercased() else {
                throw EmbedliteError.invalidArtifact(
                    "\(url.path) fails its sha256 check: the file is corrupt or was changed")
            }
        }
    }
}
