/// The note store's file format, shared with the Kotlin core (android_demo/core/.../VectorStore.kt):
/// "EMBEDLITE-NOTES 1\n", dim (int32), quantization (byte: 0 float32, 1 int8), then records framed as length
/// (int32), CRC-32 of the payload (int32), payload = op (byte: 1 put, 2 delete), id, and for a put the text and
/// the vector (float32 values, or a float32 scale and dim int8 codes). Strings are an int32 byte count (-1 for
/// none) and UTF-8. Numbers are big-endian, as Java's DataOutputStream writes them.
enum NoteFile {
    static let magic = Array("EMBEDLITE-NOTES 1\n".utf8)
    static let headerSize = magic.count + 5
    static let put: UInt8 = 1
    static let delete: UInt8 = 2

    static func header(_ dim: Int, _ quantization: Quantization) -> [UInt8] {
        var out = magic
        appendInt32(Int32(dim), to: &out)
        out.append(quantization.rawValue)
        return out
    }

    static func encode(_ v: [Float], _ quantization: Quantization) -> [UInt8] {
        var out: [UInt8] = []
        switch quantization {
        case .float32:
            for x in v { appendInt32(Int32(bitPattern: x.bitPattern), to: &out) }
        case .int8:
            let (scale, codes) = Vectors.quantizeInt8(v)
            appendInt32(Int32(bitPattern: scale.bitPattern), to: &out)
            out += codes.map { UInt8(bitPattern: $0) }
        }
        return out
    }

    /// The vector search scores against: float32 as stored, or int8 codes times their scale.
    static func decode(_ bytes: ArraySlice<UInt8>, dim: Int, _ quantization: Quantization) -> [Float] {
        let base = bytes.startIndex
        func float(_ at: Int) -> Float { Float(bitPattern: UInt32(bitPattern: int32(bytes, base + at))) }
        switch quantization {
        case .float32: return (0..<dim).map { float(4 * $0) }
        case .int8:
            let codes = (0..<dim).map { Int8(bitPattern: bytes[base + 4 + $0]) }
            return Vectors.dequantizeInt8(scale: float(0), codes: codes)
        }
    }

    static func record(_ op: UInt8, _ key: [UInt8], _ text: String?, _ vector: [UInt8]?) -> [UInt8] {
        var out: [UInt8] = [op]
        appendInt32(Int32(key.count), to: &out)
        out += key
        if op == put {
            if let text {
                let utf8 = Array(text.utf8)
                appendInt32(Int32(utf8.count), to: &out)
                out += utf8
            } else {
                appendInt32(-1, to: &out)
            }
            out += vector ?? []
        }
        return out
    }

    static func frame(_ payload: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        appendInt32(Int32(payload.count), to: &out)
        appendInt32(Int32(bitPattern: CRC32.checksum(payload)), to: &out)
        return out + payload
    }

    static func appendInt32(_ v: Int32, to out: inout [UInt8]) {
        let u = UInt32(bitPattern: v)
        out += [UInt8(u >> 24), UInt8(truncatingIfNeeded: u >> 16), UInt8(truncatingIfNeeded: u >> 8),
                UInt8(truncatingIfNeeded: u)]
    }

    static func int32<C: Collection>(_ bytes: C, _ at: C.Index) -> Int32 where C.Element == UInt8, C.Index == Int {
        Int32(bitPattern: UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8
            | UInt32(bytes[at + 3]))
    }
}

/// Reads a record payload: a byte, strings (int32 length, -1 for none, then UTF-8), the rest.
struct RecordReader {
    let bytes: ArraySlice<UInt8>
    var pos: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.pos = bytes.startIndex
    }

    var remaining: Int { bytes.endIndex - pos }

    mutating func byte() -> UInt8? {
        guard remaining >= 1 else { return nil }
        pos += 1
        return bytes[pos - 1]
    }

    /// A present string's bytes; nil when absent or malformed.
    mutating func string() -> [UInt8]? {
        guard remaining >= 4 else { return nil }
        let n = Int(Int32(bitPattern: UInt32(bytes[pos]) << 24 | UInt32(bytes[pos + 1]) << 16
            | UInt32(bytes[pos + 2]) << 8 | UInt32(bytes[pos + 3])))
        guard n >= 0, n <= remaining - 4 else { return nil }
        pos += 4 + n
        return Array(bytes[(pos - n)..<pos])
    }

    /// .some(nil) for an absent string, nil when malformed.
    mutating func optionalString() -> String?? {
        guard remaining >= 4 else { return nil }
        if bytes[pos..<(pos + 4)].allSatisfy({ $0 == 0xFF }) {
            pos += 4
            return .some(nil)
        }
        return string().map { String(decoding: $0, as: UTF8.self) }
    }

    func rest() -> ArraySlice<UInt8> { bytes[pos...] }
}
