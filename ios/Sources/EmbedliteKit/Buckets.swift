/// TFLite signatures have static shapes, one per (batch, sequence) bucket, named `b{batch}_s{seq}`; texts are
/// grouped by length and `batchFor` picks each call's batch at that length.
public struct Bucket: Hashable, Sendable, CustomStringConvertible {
    public let batch: Int
    public let seq: Int

    public init(batch: Int, seq: Int) {
        self.batch = batch
        self.seq = seq
    }

    public var signature: String { "b\(batch)_s\(seq)" }
    public var description: String { signature }

    /// The bucket a signature name stands for, or nil when the name is not `b{batch}_s{seq}`.
    public init?(signature: String) {
        let parts = signature.split(separator: "_")
        guard parts.count == 2, parts[0].first == "b", parts[1].first == "s",
              let batch = Int(parts[0].dropFirst()), let seq = Int(parts[1].dropFirst()), batch > 0, seq > 0 else {
            return nil
        }
        self.init(batch: batch, seq: seq)
    }

    /// The next call at one sequence length with `rows` texts left: (signature batch, texts it takes), as the
    /// Python runtime chooses: a padding row costs what a text costs, so a batch less than 3/4 full gives way to
    /// calls of a smaller one. `batches`: the batch sizes that length has, ascending (not empty).
    public static func batchFor(_ batches: [Int], rows: Int) -> (batch: Int, take: Int) {
        let fit = batches.first { $0 >= rows } ?? batches[batches.count - 1]
        if rows < fit && Double(rows) < 0.75 * Double(fit) {
            let smaller = batches.last { $0 <= rows } ?? batches[0]
            return (smaller, min(rows, smaller))
        }
        return (fit, min(rows, fit))
    }
}

/// Token id rows right-padded to the bucket's shape, with their attention mask, row-major.
public struct PaddedBatch: Sendable {
    public let bucket: Bucket
    public let inputIds: [Int32]
    public let attentionMask: [Int32]
    /// Rows holding texts; the rest are filler rows (one pad token each, so every row stays valid).
    public let rows: Int

    public init(_ rows: [[Int32]], padId: Int32, bucket: Bucket) throws {
        guard rows.count <= bucket.batch else {
            throw EmbedliteError.invalidInput("\(rows.count) rows for a batch of \(bucket.batch)")
        }
        var ids = [Int32](repeating: padId, count: bucket.batch * bucket.seq)
        var mask = [Int32](repeating: 0, count: bucket.batch * bucket.seq)
        for (i, row) in rows.enumerated() {
            guard row.count <= bucket.seq else {
                throw EmbedliteError.invalidInput("row \(i) has \(row.count) tokens, the bucket holds \(bucket.seq)")
            }
            for (j, id) in row.enumerated() {
                ids[i * bucket.seq + j] = id
                mask[i * bucket.seq + j] = 1
            }
        }
        for i in rows.count..<bucket.batch { mask[i * bucket.seq] = 1 }
        self.bucket = bucket
        self.inputIds = ids
        self.attentionMask = mask
        self.rows = rows.count
    }
}
