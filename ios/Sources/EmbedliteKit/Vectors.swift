import Foundation

/// Vector maths as the Python runtime and the Kotlin core do it, in the same float operations as the Kotlin core
/// (so both write identical store files): Matryoshka truncation, normalisation, int8 codes.
public enum Vectors {
    /// The first `dim` values, re-normalised to unit length when `normalize` (Matryoshka truncation).
    public static func truncate(_ vector: [Float], to dim: Int, normalize: Bool = true) throws -> [Float] {
        guard dim >= 1 && dim <= vector.count else {
            throw EmbedliteError.invalidInput("dim \(dim): the vector has \(vector.count) values")
        }
        let head = Array(vector.prefix(dim))
        return normalize ? try Vectors.normalize(head) : head
    }

    /// A unit-length copy; a zero vector has no direction and is refused.
    public static func normalize(_ vector: [Float]) throws -> [Float] {
        var sum = 0.0
        for x in vector { sum += Double(x) * Double(x) }
        let norm = Float(sum.squareRoot())
        guard norm > 0 else {
            throw EmbedliteError.invalidInput("a zero vector has no direction: cosine similarity is undefined for it")
        }
        return vector.map { $0 / norm }
    }

    public static func dot(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "dims differ: \(a.count) and \(b.count)")
        var sum = 0.0
        for i in a.indices { sum += Double(a[i]) * Double(b[i]) }
        return Float(sum)
    }

    /// int8 codes with one scale per vector: scale = max|x| / 127, code = round-half-even(x / scale).
    public static func quantizeInt8(_ vector: [Float]) -> (scale: Float, codes: [Int8]) {
        var maxAbs: Float = 0
        for x in vector { maxAbs = max(maxAbs, abs(x)) }
        let scale = Float(max(Double(maxAbs), 1e-12) / 127.0)
        return (scale, vector.map { Int8(truncatingIfNeeded: Int(($0 / scale).rounded(.toNearestOrEven))) })
    }

    public static func dequantizeInt8(scale: Float, codes: [Int8]) -> [Float] { codes.map { Float($0) * scale } }

    /// Refuses NaN and infinity, naming the first bad index.
    public static func checkFinite(_ vector: [Float]) throws {
        if let bad = vector.firstIndex(where: { !$0.isFinite }) {
            throw EmbedliteError.invalidInput("the vector holds \(vector[bad]) at index \(bad)")
        }
    }
}
