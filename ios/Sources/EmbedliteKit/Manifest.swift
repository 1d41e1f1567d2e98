import Foundation

/// manifest.json of an embedlite artifact: what the model outputs and how to feed it. Same keys and checks as
/// the Python `embedlite.artifact.Manifest` and the Kotlin core.
public struct Manifest: Codable, Equatable, Sendable {
    public static let supportedFormatVersion = 1
    public static let modelFiles = ["onnx": "model.onnx", "tflite": "model.tflite"]

    public struct FileEntry: Codable, Equatable, Sendable {
        public let sha256: String
        public let bytes: Int?
    }

    public let formatVersion: Int
    public let name: String
    public let sourceModel: String
    public let architecture: String
    public let format: String
    public let precision: String
    public let pooling: String
    public let normalize: Bool
    public let dim: Int
    public let matryoshkaDims: [Int]
    public let maxSeqLength: Int
    public let prompts: [String: String]
    public let defaultTask: String?
    public let inputs: [String]
    public let outputDim: Int?
    public let sequenceBuckets: [Int]
    public let batchBuckets: [Int]
    public let files: [String: FileEntry]
    public let createdBy: String

    /// The dims a caller may ask for: the fixed output dim, or every Matryoshka dim (largest first).
    public var dims: [Int] { outputDim.map { [$0] } ?? matryoshkaDims }

    /// The model file this manifest describes (model.tflite or model.onnx).
    public var modelFile: String { Manifest.modelFiles[format] ?? "model.\(format)" }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case formatVersion = "format_version", name, sourceModel = "source_model", architecture, format, precision
        case pooling, normalize, dim, matryoshkaDims = "matryoshka_dims", maxSeqLength = "max_seq_length", prompts
        case defaultTask = "default_task", inputs, outputDim = "output_dim", sequenceBuckets = "sequence_buckets"
        case batchBuckets = "batch_buckets", files, createdBy = "created_by"
    }

    /// Fields without a default: a manifest lacking any of them is refused, naming them all.
    static let required: [CodingKeys] = [
        .name, .sourceModel, .architecture, .format, .precision, .pooling, .normalize, .dim, .matryoshkaDims,
        .maxSeqLength,
    ]

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let version = try? c.decodeIfPresent(Int.self, forKey: .formatVersion)
        guard version == Manifest.supportedFormatVersion else {
            let shown = version.map(String.init) ?? "missing or not an integer"
            throw EmbedliteError.invalidArtifact("manifest.json has format_version \(shown); "
                + "EmbedliteKit reads version \(Manifest.supportedFormatVersion)")
        }
        let missing = Manifest.required.filter { !c.contains($0) }
        if !missing.isEmpty {
            throw EmbedliteError.invalidArtifact(
                "manifest.json lacks the fields: \(missing.map(\.rawValue).joined(separator: ", "))")
        }
        formatVersion = Manifest.supportedFormatVersion
        name = try c.decode(String.self, forKey: .name)
        sourceModel = try c.decode(String.self, forKey: .sourceModel)
        architecture = try c.decode(String.self, forKey: .architecture)
        format = try c.decode(String.self, forKey: .format)
        precision = try c.decode(String.self, forKey: .precision)
        pooling = try c.decode(String.self, forKey: .pooling)
        normalize = try c.decode(Bool.self, forKey: .normalize)
        dim = try c.decode(Int.self, forKey: .dim)
        matryoshkaDims = try c.decode([Int].self, forKey: .matryoshkaDims)
        maxSeqLength = try c.decode(Int.self, forKey: .maxSeqLength)
        prompts = try c.decodeIfPresent([String: String].self, forKey: .prompts) ?? [:]
        defaultTask = try c.decodeIfPresent(String.self, forKey: .defaultTask)
        inputs = try c.decodeIfPresent([String].self, forKey: .inputs) ?? ["input_ids", "attention_mask"]
        outputDim = try c.decodeIfPresent(Int.self, forKey: .outputDim)
        sequenceBuckets = try c.decodeIfPresent([Int].self, forKey: .sequenceBuckets) ?? []
        batchBuckets = try c.decodeIfPresent([Int].self, forKey: .batchBuckets) ?? []
        files = try c.decodeIfPresent([String: FileEntry].self, forKey: .files) ?? [:]
        createdBy = try c.decodeIfPresent(String.self, forKey: .createdBy) ?? ""
    }

    /// Parses and checks manifest.json: version, fields, format, listed files, dims.
    public static func parse(_ data: Data) throws -> Manifest {
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: data)
        } catch let error as EmbedliteError {
            throw error
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            throw EmbedliteError.invalidArtifact("manifest.json is malformed: \(path(context)) should be \(type)")
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw EmbedliteError.invalidArtifact("manifest.json is not valid JSON or not a JSON object")
        } catch let DecodingError.dataCorrupted(context) {
            throw EmbedliteError.invalidArtifact("manifest.json is malformed at \(path(context))")
        } catch let DecodingError.keyNotFound(key, context) {
            throw EmbedliteError.invalidArtifact(
                "manifest.json is malformed: \(path(context)) lacks \(key.stringValue)")
        } catch {
            throw EmbedliteError.invalidArtifact("manifest.json could not be read: \(error)")
        }
        try manifest.check()
        return manifest
    }

    private static func path(_ context: DecodingError.Context) -> String {
        if context.codingPath.isEmpty { return "the top level" }
        return context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    private func check() throws {
        guard Manifest.modelFiles[format] != nil else {
            throw EmbedliteError.invalidArtifact("manifest.json names an unknown format '\(format)'")
        }
        for file in [modelFile, "tokenizer.json"] where files[file] == nil {
            throw EmbedliteError.invalidArtifact("manifest.json does not list \(file) among its files")
        }
        guard dim > 0, maxSeqLength > 0, matryoshkaDims.allSatisfy({ $0 > 0 && $0 <= dim }) else {
            throw EmbedliteError.invalidArtifact(
                "manifest.json has impossible sizes: dim \(dim), matryoshka_dims \(matryoshkaDims), "
                    + "max_seq_length \(maxSeqLength)")
        }
        if let task = defaultTask, prompts[task] == nil {
            throw EmbedliteError.invalidArtifact("manifest.json: default_task '\(task)' has no prompt")
        }
    }
}
