#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

public enum Quantization: UInt8, Sendable, CaseIterable {
    case float32 = 0
    case int8 = 1
}

/// One search result: the record's id, its cosine similarity to the query, its text.
public struct SearchResult: Equatable, Sendable {
    public let id: String
    public let score: Float
    public let text: String?
}

/// A persisted brute-force vector store for an app's notes, in the Kotlin core's file format (one format for
/// both phones): cosine similarity over unit vectors kept as float32 or int8 codes (one scale per vector, as the
/// Python store). The file is an append-only log of CRC-checked records, synced on every write: a write that
/// returned survives a crash, and a torn last record is dropped when the file is opened again. The log is
/// compacted when most of it is superseded.
///
/// Order follows Python's `VectorStore` (SQLite rowid): records keep the position of their first insert, an
/// upsert keeps it, and score ties go to the earlier record. Ids are compared by their UTF-8 bytes, as Kotlin and
/// SQLite compare them.
public final class VectorStore: @unchecked Sendable {
    public let url: URL
    public let dim: Int
    public let quantization: Quantization

    private let lock = NSLock()
    private var fd: Int32 = -1
    private var fileSize = 0
    private var records = 0
    private var storedIds: [String] = []
    private var keys: [[UInt8]] = []
    private var texts: [String?] = []
    private var vectors: [[Float]] = []
    private var position: [[UInt8]: Int] = [:]

    /// Opens the store at `url`, creating it when missing or empty; a file of another dim or quantization, or
    /// not a store at all, is refused.
    public init(url: URL, dim: Int, quantization: Quantization = .float32) throws {
        guard dim > 0 else { throw EmbedliteError.invalidInput("dim must be positive, got \(dim)") }
        self.url = url
        self.dim = dim
        self.quantization = quantization
        fd = open(url.path, O_RDWR | O_CREAT, 0o644)
        guard fd >= 0 else { throw EmbedliteError.invalidStore("\(url.path) cannot be opened: \(Posix.lastError())") }
        do {
            let bytes = try VectorStore.readAll(fd, url)
            if bytes.isEmpty {
                let header = NoteFile.header(dim, quantization)
                try writeAll(fd, header, at: 0)
                fileSize = header.count
            } else {
                try load(bytes)
            }
        } catch {
            Posix.close(fd)
            fd = -1
            throw error
        }
    }

    deinit { if fd >= 0 { Posix.close(fd) } }

    /// How many records the store holds.
    public var count: Int { locked { storedIds.count } }

    /// Ids in store order (first insert first).
    public var ids: [String] { locked { storedIds } }

    public func text(of id: String) -> String? {
        locked { position[Array(id.utf8)].flatMap { texts[$0] } }
    }

    /// Inserts or replaces one record (a replaced record keeps its place); returns once it is on disk. Bad input
    /// is refused before anything is written.
    public func upsert(_ id: String, vector: [Float], text: String? = nil) throws {
        try upsert([(id, vector, text)])
    }

    /// Inserts or replaces many records with one write and one sync (a crash during it keeps a prefix of them).
    /// Every record is checked first: one bad record, or an id given twice, and nothing is written.
    public func upsert(_ records: [(id: String, vector: [Float], text: String?)]) throws {
        var payloads: [[UInt8]] = []
        var seen = Set<[UInt8]>()
        for (i, (id, vector, text)) in records.enumerated() {
            let which = records.count > 1 ? "record \(i): " : ""
            guard !id.isEmpty else { throw EmbedliteError.invalidInput("\(which)ids are non-empty strings") }
            guard vector.count == dim else {
                throw EmbedliteError.invalidInput("\(which)vector has dim \(vector.count), this store holds dim \(dim)")
            }
            do {
                try Vectors.checkFinite(vector)
                let key = Array(id.utf8)
                guard seen.insert(key).inserted else { throw EmbedliteError.invalidInput("id '\(id)' repeats") }
                let stored = NoteFile.encode(try Vectors.normalize(vector), quantization)
                payloads.append(NoteFile.record(NoteFile.put, key, text, stored))
            } catch let error as EmbedliteError {
                throw EmbedliteError.invalidInput(which + error.message)
            }
        }
        try locked {
            try append(payloads)
            for payload in payloads { try apply(payload[...], at: fileSize) }
            try compactIfMostlyDead()
        }
    }

    /// Removes a record; false when the id was not there.
    @discardableResult
    public func delete(_ id: String) throws -> Bool {
        let key = Array(id.utf8)
        return try locked {
            guard position[key] != nil else { return false }
            try append([NoteFile.record(NoteFile.delete, key, nil, nil)])
            remove(key)
            try compactIfMostlyDead()
            return true
        }
    }

    /// The k records most similar to `query` (cosine), best first; equal scores keep store order.
    public func search(_ query: [Float], k: Int = 10) throws -> [SearchResult] {
        guard k > 0 else { throw EmbedliteError.invalidInput("k must be positive, got \(k)") }
        guard query.count == dim else {
            throw EmbedliteError.invalidInput("query has dim \(query.count), this store holds dim \(dim)")
        }
        try Vectors.checkFinite(query)
        let q = try Vectors.normalize(query)
        return locked {
            let scores = vectors.map { Vectors.dot($0, q) }
            let top = scores.indices.sorted { (scores[$0], -$0) > (scores[$1], -$1) }.prefix(k)
            return top.map { SearchResult(id: storedIds[$0], score: scores[$0], text: texts[$0]) }
        }
    }

    public func close() {
        locked {
            if fd >= 0 { Posix.close(fd) }
            fd = -1
        }
    }

    // MARK: the file

    private func load(_ bytes: [UInt8]) throws {
        guard bytes.count >= NoteFile.headerSize, Array(bytes[0..<NoteFile.magic.count]) == NoteFile.magic else {
            throw EmbedliteError.invalidStore("\(url.path) is not an embedlite note store")
        }
        let fileDim = Int(NoteFile.int32(bytes, NoteFile.magic.count))
        let fileQuantization = bytes[NoteFile.magic.count + 4]
        guard fileDim == dim, fileQuantization == quantization.rawValue else {
            let name = Quantization(rawValue: fileQuantization).map { "\($0)" } ?? "quantization \(fileQuantization)"
            throw EmbedliteError.invalidStore(
                "\(url.path) holds dim \(fileDim) \(name); opened as dim \(dim) \(quantization)")
        }
        var good = NoteFile.headerSize
        while good + 8 <= bytes.count {
            let length = Int(NoteFile.int32(bytes, good))
            let crc = UInt32(bitPattern: NoteFile.int32(bytes, good + 4))
            let start = good + 8
            guard length >= 0, length <= bytes.count - start else { break }
            let payload = bytes[start..<(start + length)]
            guard CRC32.checksum(payload) == crc else { break }
            try apply(payload, at: good)
            records += 1
            good = start + length
        }
        fileSize = good
        if good < bytes.count {  // a torn last write: drop it so appends stay readable
            guard ftruncate(fd, off_t(good)) == 0 else {
                throw EmbedliteError.invalidStore("\(url.path): cannot drop its torn last record: \(Posix.lastError())")
            }
        }
    }

    private func apply(_ payload: ArraySlice<UInt8>, at offset: Int) throws {
        var reader = RecordReader(bytes: payload)
        guard let op = reader.byte(), let key = reader.string(), !key.isEmpty else {
            throw EmbedliteError.invalidStore("\(url.path): the record at byte \(offset) is malformed")
        }
        if op == NoteFile.delete { remove(key); return }
        let vectorBytes = quantization == .float32 ? 4 * dim : 4 + dim
        guard let text = reader.optionalString(), reader.remaining == vectorBytes else {
            throw EmbedliteError.invalidStore("\(url.path): the record at byte \(offset) is malformed")
        }
        let vector = NoteFile.decode(reader.rest(), dim: dim, quantization)
        if let at = position[key] {
            texts[at] = text
            vectors[at] = vector
        } else {
            position[key] = storedIds.count
            storedIds.append(String(decoding: key, as: UTF8.self))
            keys.append(key)
            texts.append(text)
            vectors.append(vector)
        }
    }

    private func remove(_ key: [UInt8]) {
        guard let at = position.removeValue(forKey: key) else { return }
        storedIds.remove(at: at)
        keys.remove(at: at)
        texts.remove(at: at)
        vectors.remove(at: at)
        for i in at..<keys.count { position[keys[i]] = i }
    }

    private func append(_ payloads: [[UInt8]]) throws {
        guard fd >= 0 else { throw EmbedliteError.invalidStore("\(url.path) is closed") }
        let frames = payloads.flatMap(NoteFile.frame)
        do {
            try writeAll(fd, frames, at: fileSize)
        } catch {
            _ = ftruncate(fd, off_t(fileSize))  // nothing half-written stays behind
            throw error
        }
        fileSize += frames.count
        records += payloads.count
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes {
                pwrite(fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done))
            }
            guard n > 0 else { throw EmbedliteError.invalidStore("\(url.path): write failed: \(Posix.lastError())") }
            done += n
        }
        guard fsync(fd) == 0 else {
            throw EmbedliteError.invalidStore("\(url.path): fsync failed: \(Posix.lastError())")
        }
    }

    private func compactIfMostlyDead() throws {
        guard records >= 64, records >= 2 * storedIds.count else { return }
        let tmp = url.path + ".tmp"
        var bytes = NoteFile.header(dim, quantization)
        for i in storedIds.indices {
            let stored = NoteFile.encode(vectors[i], quantization)
            bytes += NoteFile.frame(NoteFile.record(NoteFile.put, keys[i], texts[i], stored))
        }
        let out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard out >= 0 else { throw EmbedliteError.invalidStore("\(tmp) cannot be created: \(Posix.lastError())") }
        do {
            try writeAll(out, bytes, at: 0)
        } catch {
            Posix.close(out)
            unlink(tmp)
            throw error
        }
        Posix.close(out)
        guard rename(tmp, url.path) == 0 else {
            throw EmbedliteError.invalidStore(
                "could not replace \(url.path) with its compacted copy: \(Posix.lastError())")
        }
        let reopened = open(url.path, O_RDWR)
        guard reopened >= 0 else {
            throw EmbedliteError.invalidStore("\(url.path) cannot be reopened: \(Posix.lastError())")
        }
        Posix.close(fd)
        fd = reopened
        fileSize = bytes.count
        records = storedIds.count
    }

    private static func readAll(_ fd: Int32, _ url: URL) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            guard n >= 0 else { throw EmbedliteError.invalidStore("\(url.path) cannot be read: \(Posix.lastError())") }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }

    private func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// The two POSIX calls whose names the store's own methods would shadow.
private enum Posix {
    static func close(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }

    static func lastError() -> String {
        #if canImport(Glibc)
        String(cString: strerror(Glibc.errno))
        #else
        String(cString: strerror(Darwin.errno))
        #endif
    }
}
