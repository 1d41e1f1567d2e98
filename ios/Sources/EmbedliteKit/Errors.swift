import Foundation

/// What EmbedliteKit throws; every message names the file, field or value at fault.
public enum EmbedliteError: Error, Equatable, Sendable {
    /// A model artifact that cannot be used: a missing or corrupt file, a malformed manifest or tokenizer.json.
    case invalidArtifact(String)
    /// Input the API refuses: a wrong dim, NaN or inf, an unknown task, an empty id.
    case invalidInput(String)
    /// A file that is not a note store, or one that holds another dim or quantization.
    case invalidStore(String)
    /// The inference runtime failed: LiteRT not found, an accelerator that cannot start, a failed run.
    case runtime(String)

    public var message: String {
        switch self {
        case .invalidArtifact(let m), .invalidInput(let m), .invalidStore(let m), .runtime(let m): return m
        }
    }
}

extension EmbedliteError: CustomStringConvertible, LocalizedError {
    public var description: String { message }
    public var errorDescription: String? { message }
}
