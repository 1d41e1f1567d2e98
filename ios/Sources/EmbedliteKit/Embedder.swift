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

    /// What `embedQuery` puts before each text: the "query" prompt, else the default task's, else "".
    public var queryPrompt: String { promptIfKnown("query") }
    /// What `embedDocuments` puts before each text: the "document" prompt, else the default task's, else "".
    public var documentPrompt: String { promptIfKnown("document") }

    /// One vector per text, in input order; `dim` is one of `dims` (default the largest), `task` one of `tasks`
    /// (default the manifest's default task). Empty texts are valid; an empty list gives an empty list.
    public func embed(_ texts: [String], task: String? = nil, dim: Int? = nil) throws -> [[Float]] {
        let prompt = try self.prompt(task)
        return try run(texts.map { prompt + $0 }, dim: dim)
    }

    /// Search queries, with the model's query prompt where it has one (EmbeddingGemma:
    /// "task: search result | query: "), else as `embed` does.
    public func embedQuery(_ texts: [String], dim: Int? = nil) throws -> [[Float]] {
        let prompt = queryPrompt
        return try run(texts.map { prompt + $0 }, dim: dim)
    }

    /// Documents to search, with the model's document prompt where it has one. `titles` (one per text; nil or ""
    /// for none) fill the prompt's title slot ("title: none | text: " becomes "title: {title} | text: "), or go
    /// before the text where the prompt has no slot.
    public func embedDocuments(_ texts: [String], titles: [String?]? = nil, dim: Int? = nil) throws -> [[Float]] {
        if let titles, titles.count != texts.count {
            throw EmbedliteError.invalidInput("\(titles.count) titles for \(texts.count) texts")
        }
        let prompt = documentPrompt
        return try run(texts.indices.map { Embedder.withPrompt(prompt, texts[$0], title: titles?[$0]) }, dim: dim)
    }

    /// EmbeddingGemma's document prompt is "title: none | text: ".
    public static let titleSlot = "title: none"

    /// The string the model reads: prompt + text, a title in the prompt's title slot or else before the text.
    public static func withPrompt(_ prompt: String, _ text: String, title: String? = nil) -> String {
        guard let title, !title.isEmpty else { return prompt + text }
        if let slot = prompt.range(of: titleSlot) {
            return prompt.replacingCharacters(in: slot, with: "title: \(title)") + text
        }
        return prompt + "\(title) \(text)".trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The first `dim` values of a full-width vector, re-normalised when the model normalises and `dim` is not
    /// its full dim (as Python's `Embedder.truncate`): a model without normalisation keeps its raw prefix.
    public func truncate(_ vector: [Float], to dim: Int) throws -> [Float] {
        try Vectors.truncate(vector, to: dim, normalize: dim != manifest.dim && manifest.normalize)
    }

    private func run(_ prompted: [String], dim: Int?) throws -> [[Float]] {
        let dim = try checkDim(dim)
        let ids = prompted.map { tokenizer.encode($0) }
        let outputDim = manifest.outputDim ?? manifest.dim
        var out = [[Float]](repeating: [], count: prompted.count)
        // A call holds texts of one run length (the smallest signature length that holds the text), as in Python:
        // a text padded to another length can get other bits (EmbeddingGemma int8 at 48 vs 64 tokens: cosine
        // 0.9976 on XNNPACK), so a text's vector must not depend on the texts beside it.
        let seqs = Array(Set(backend.buckets.map(\.seq))).sorted()
        var groups: [Int: [Int]] = [:]
        for i in ids.indices {
            guard let seq = seqs.first(where: { $0 >= ids[i].count }) else {
                throw EmbedliteError.runtime("no signature holds a text of \(ids[i].count) tokens")
            }
            groups[seq, default: []].append(i)
        }
        for (seq, group) in groups.sorted(by: { $0.key < $1.key }) {
            let batches = backend.buckets.filter { $0.seq == seq }.map(\.batch).sorted()
            var start = 0
            while start < group.count {
                let (batch, take) = Bucket.batchFor(batches, rows: group.count - start)
                let bucket = Bucket(batch: batch, seq: seq)
                let chunk = Array(group[start..<start + take])
                start += take
                let vectors = try backend.run(PaddedBatch(chunk.map { ids[$0] }, padId: tokenizer.padId, bucket: bucket))
                for (j, i) in chunk.enumerated() {
                    guard j < vectors.count, vectors[j].count == outputDim else {
                        throw EmbedliteError.runtime(
                            "the model returned \(vectors.count) rows of \(vectors.first?.count ?? 0) values; "
                                + "expected \(bucket.batch) of \(outputDim)")
                    }
                    out[i] = try truncate(vectors[j], to: dim)
                }
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

    /// The prompt of `task` where the model has one, else the default task's.
    private func promptIfKnown(_ task: String) -> String {
        (try? prompt(manifest.prompts[task] != nil ? task : nil)) ?? ""
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
