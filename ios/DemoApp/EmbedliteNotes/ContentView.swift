import SwiftUI

/// Add notes, search them by meaning; the header shows the model, what runs it (GPU or CPU), dim and note count.
struct ContentView: View {
    @ObservedObject var model: NotesModel
    @State private var draft = ""
    @State private var query = ""

    var body: some View {
        NavigationStack {
            List {
                Section {
                    Text(model.status).font(.footnote).foregroundStyle(.secondary)
                    if !model.searchInfo.isEmpty {
                        Text(model.searchInfo).font(.footnote).foregroundStyle(.secondary)
                    }
                }
                if query.isEmpty {
                    Section("Notes") {
                        ForEach(model.notes) { note in Text(note.text) }
                            .onDelete { offsets in
                                let ids = offsets.map { model.notes[$0].id }
                                Task { for id in ids { await model.delete(id) } }
                            }
                    }
                } else {
                    Section("Closest in meaning") {
                        ForEach(model.results) { note in
                            HStack {
                                Text(note.text)
                                Spacer()
                                Text(String(format: "%.2f", note.score ?? 0))
                                    .monospacedDigit()
                                    .foregroundStyle(.secondary)
                            }
                        }
                    }
                }
            }
            .navigationTitle("Notes")
            .searchable(text: $query, prompt: "Search by meaning")
            .task(id: query) {
                try? await Task.sleep(nanoseconds: 250_000_000)  // search once typing pauses
                if !Task.isCancelled { await model.search(query) }
            }
            .safeAreaInset(edge: .bottom) {
                HStack {
                    TextField("New note", text: $draft, axis: .vertical)
                        .textFieldStyle(.roundedBorder)
                    Button("Add") {
                        let text = draft
                        draft = ""
                        Task { await model.add(text) }
                    }
                    .disabled(!model.ready || draft.trimmingCharacters(in: .whitespaces).isEmpty)
                }
                .padding()
                .background(.bar)
            }
            .alert("Error", isPresented: Binding(get: { model.error != nil }, set: { if !$0 { model.error = nil } })) {
                Button("OK", role: .cancel) {}
            } message: {
                Text(model.error ?? "")
            }
        }
    }
}
