import EmbedliteKit
import EmbedliteLiteRT
import Foundation

/// The model and the notes store, isolated in an actor so embedding and searching never run on the main actor.
/// Uses only EmbedliteKit's and EmbedliteLiteRT's public API.
actor NotesEngine {
    struct Note: Identifiable, Sendable {
        let id: String
        let text: String
        var score: Float?
    }

    /// A Matryoshka dim from the manifest (e.g. 256) makes the store smaller; nil keeps the full dim.
    static let storeDim: Int? = nil
    private static let agreement: Float = 0.99

    let status: String
    private let embedder: Embedder
    private let store: VectorStore

    /// Loads the bundled artifact (checksums verified), picks the accelerator and opens the store. Slow (the
    /// model is compiled): create it off the main actor.
    init(bundle: URL, storeDirectory: URL) throws {
        let artifact = try Artifact(directory: bundle)
        guard artifact.manifest.format == "tflite" else {
            throw EmbedliteError.invalidArtifact(
                "the app runs TFLite artifacts; the bundled one is \(artifact.manifest.format)")
        }
        let (backend, note) = try NotesEngine.backend(for: artifact)
        let embedder = try Embedder(artifact: artifact, backend: backend)
        let dim = NotesEngine.storeDim ?? embedder.dims[0]
        self.embedder = embedder
        try FileManager.default.createDirectory(at: storeDirectory, withIntermediateDirectories: true)
        let file = storeDirectory.appendingPathComponent("notes-\(artifact.manifest.name)-\(dim).store")
        store = try VectorStore(url: file, dim: dim, quantization: .int8)
        status = "\(artifact.manifest.name) \(artifact.manifest.precision) · \(backend.device) · \(dim)-d"
            + (note.map { " · \($0)" } ?? "")
    }

    /// LiteRT's GPU accelerator (Metal) when it starts and agrees with the CPU on a probe (cosine >= 0.99 on every
    /// row), else the CPU; the note says why the GPU is not used.
    private static func backend(for artifact: Artifact) throws -> (any InferenceBackend, String?) {
        let cpu = try LiteRtBackend(model: artifact.modelURL, accelerator: .cpu)
        do {
            let gpu = try LiteRtBackend(model: artifact.modelURL, accelerator: .gpu)
            let probe = ["a short probe", String(repeating: "a longer probe sentence, in several words ", count: 12)]
            let fast = try Embedder(artifact: artifact, backend: gpu).embed(probe)
            let reference = try Embedder(artifact: artifact, backend: cpu).embed(probe)
            let worst = try zip(fast, reference)
                .map { Vectors.dot(try Vectors.normalize($0), try Vectors.normalize($1)) }.min() ?? 0
            if worst >= agreement { return (gpu, nil) }
            return (cpu, "GPU disagrees with the CPU (cosine \(worst))")
        } catch {
            return (cpu, "GPU unavailable")
        }
    }

    var count: Int { store.count }

    func add(_ text: String) throws {
        let vector = try embedder.embedDocuments([text], dim: store.dim)[0]
        try store.upsert(UUID().uuidString, vector: vector, text: text)
    }

    func delete(_ id: String) throws { try store.delete(id) }

    /// All notes, newest first.
    func notes() -> [Note] {
        store.ids.reversed().map { Note(id: $0, text: store.text(of: $0) ?? "") }
    }

    /// The k notes closest in meaning to `query`, and how long embedding and search took.
    func search(_ query: String, k: Int = 10) throws -> (notes: [Note], milliseconds: Double) {
        let start = DispatchTime.now()
        guard store.count > 0 else { return ([], 0) }
        let vector = try embedder.embedQuery([query], dim: store.dim)[0]
        let hits = try store.search(vector, k: k)
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        return (hits.map { Note(id: $0.id, text: $0.text ?? "", score: $0.score) }, elapsed)
    }
}
