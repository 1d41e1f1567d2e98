import SwiftUI

@main
struct EmbedliteNotesApp: App {
    @StateObject private var model = NotesModel()

    var body: some Scene {
        WindowGroup {
            ContentView(model: model)
                .task { await model.load() }
        }
    }
}
