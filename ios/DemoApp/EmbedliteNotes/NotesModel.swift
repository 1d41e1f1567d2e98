import EmbedliteKit
import Foundation

/// The UI's state, on the main actor; every call into the engine is awaited, so the UI never blocks on the model.
@MainActor
final class NotesModel: ObservableObject {
    @Published private(set) var status = "Loading the model…"
    @Published private(set) var notes: [NotesEngine.Note] = []
    @Published private(set) var results: [NotesEngine.Note] = []
    @Published private(set) var searchInfo = ""
    @Published var error: String?
    @Published private(set) var ready = false
    private var engine: NotesEngine?

    /// The bundle of `embedlite export --target ios`, copied into the app as the folder "embedlite".
    private static let bundleFolder = "embedlite"

    func load() async {
        guard engine == nil else { return }
        do {
            guard let bundle = Bundle.main.url(forResource: NotesModel.bundleFolder, withExtension: nil) else {
                throw EmbedliteError.invalidArtifact(
                    "the app has no '\(NotesModel.bundleFolder)' folder: see ios/README.md")
            }
            let storeDirectory = try FileManager.default.url(for: .applicationSupportDirectory, in: .userDomainMask,
                                                             appropriateFor: nil, create: true)
            let engine = try await Task.detached(priority: .userInitiated) {
                try NotesEngine(bundle: bundle, storeDirectory: storeDirectory)
            }.value
            self.engine = engine
            ready = true
            await refresh()
        } catch {
            status = "Could not load the model"
            self.error = "\(error)"
        }
    }

    func add(_ text: String) async {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return }
        await change { try await $0.add(text) }
    }

    func delete(_ id: String) async { await change { try await $0.delete(id) } }

    /// Runs a change on the engine, then refreshes the list; an error goes to the alert.
    private func change(_ body: (NotesEngine) async throws -> Void) async {
        guard let engine else { return }
        do {
            try await body(engine)
            await refresh()
        } catch {
            self.error = "\(error)"
        }
    }

    func search(_ query: String) async {
        guard let engine else { return }
        guard !query.trimmingCharacters(in: .whitespaces).isEmpty else {
            results = []
            searchInfo = ""
            return
        }
        do {
            let (found, milliseconds) = try await engine.search(query)
            results = found
            searchInfo = String(format: "%d results in %.1f ms", found.count, milliseconds)
        } catch {
            self.error = "\(error)"
        }
    }

    private func refresh() async {
        guard let engine else { return }
        notes = await engine.notes()
        status = "\(engine.status) · \(await engine.count) notes"
    }
}
