/// Runs one padded batch through the model and returns one embedding per row (filler rows included). The LiteRT
/// backend (EmbedliteLiteRT) implements it; another runtime (TensorFlowLiteC's interpreter, Core ML) can too.
public protocol InferenceBackend: AnyObject {
    /// What runs the model, for the UI: "LiteRT CPU", "LiteRT GPU (Metal)", ...
    var device: String { get }
    /// The (batch, sequence) shapes the model accepts.
    var buckets: [Bucket] { get }
    func run(_ batch: PaddedBatch) throws -> [[Float]]
}

/// Texts to unit vectors: task prompt, tokenisation, the smallest bucket that fits, Matryoshka truncation, as the
/// Python `Embedder` does it.
public final class Embedder {
    public let manifest: Manifest
    public let tokenizer: any TextTokenizer
    public let backend: any InferenceBackend

    public var device: String { backend.device }
    /// The dims `embed` can return, largest first.
    public var dims: [Int] { manifest.dims }
    /// Task names with a prompt ("query", "document", ... for EmbeddingGemma), sorted.
    public var tasks: [String] { manifest.prompts.keys.sorted() }

    public init(artifact: Artifact, backend: any InferenceBackend) throws {
        guard let longest = backend.buckets.map(\.seq).max(), longest >= artifact.manifest.maxSeqLength else {
            throw EmbedliteError.invalidArtifact(
                "the model's signatures \(backend.buckets.map(\.signature)) do not hold max_seq_length "
                    + "\(artifact.manifest.maxSeqLength) tokens")
        }
        self.manifest = artifact.manifest
        self.tokenizer = artifact.tokenizer
        self.backend = backend
    }

    /// One vector per text, in input order; `dim` is one of `dims` (default the largest), `task` one of `tasks`
    /// (default the manifest's default task). Empty texts are valid; an empty list gives an empty list.
    public func embed(_ texts: [String], task: String? = nil, dim: Int? = nil) throws -> [[Float]] {
        let dim = try checkDim(dim)
        let prompt = try self.prompt(task)
        let ids = texts.map { tokenizer.encode(prompt + $0) }
        let maxBatch = backend.buckets.map(\.batch).max() ?? 1
        let outputDim = manifest.outputDim ?? manifest.dim
        var out = [[Float]](repeating: [], count: texts.count)
        // similar lengths share a batch, so little compute goes to padding
        let order = ids.indices.sorted { (ids[$0].count, $0) < (ids[$1].count, $1) }
        for start in stride(from: 0, to: order.count, by: maxBatch) {
            let chunk = Array(order[start..<min(start + maxBatch, order.count)])
            let rows = chunk.map { ids[$0] }
            let longest = rows.map(\.count).max() ?? 0
            guard let bucket = Bucket.choose(backend.buckets, count: rows.count, longest: longest) else {
                throw EmbedliteError.runtime("no signature holds \(rows.count) x \(longest) tokens")
            }
            let vectors = try backend.run(PaddedBatch(rows, padId: tokenizer.padId, bucket: bucket))
            for (j, i) in chunk.enumerated() {
                guard j < vectors.count, vectors[j].count == outputDim else {
                    throw EmbedliteError.runtime(
                        "the model returned \(vectors.count) rows of \(vectors.first?.count ?? 0) values; "
                            + "expected \(bucket.batch) of \(outputDim)")
                }
                out[i] = dim == outputDim
                    ? vectors[j] : try Vectors.truncate(vectors[j], to: dim, normalize: manifest.normalize)
            }
        }
        return out
    }

    private func checkDim(_ dim: Int?) throws -> Int {
        guard let dim else { return dims.first ?? (manifest.outputDim ?? manifest.dim) }
        guard dims.contains(dim) else {
            let supported = dims.map(String.init).joined(separator: ", ")
            throw EmbedliteError.invalidInput(
                "dim \(dim) is not supported by \(manifest.name); supported dims: \(supported)")
        }
        return dim
    }

    private func prompt(_ task: String?) throws -> String {
        guard let task = task ?? manifest.defaultTask else { return "" }
        guard let prompt = manifest.prompts[task] else {
            let known = tasks.isEmpty ? "none (this model has no task prompts)" : tasks.joined(separator: ", ")
            throw EmbedliteError.invalidInput("unknown task '\(task)'; this model's tasks: \(known)")
        }
        return prompt
    }
}
