/// A JSON document (RFC 8259) as tokenizer.json and parity files need it. Strings keep their exact UTF-8 bytes:
/// Swift's `String` treats canonically equivalent strings ("é" and "e\u{301}") as equal, which would merge
/// distinct vocabulary entries, so tokenizers key their tables by bytes. Objects keep their key order.
enum JSONTree {
    case null
    case bool(Bool)
    case number(Double)
    case string([UInt8])
    case array([JSONTree])
    case object([(key: [UInt8], value: JSONTree)])

    /// Parses `bytes`; `name` goes into error messages.
    static func parse(_ bytes: [UInt8], name: String) throws -> JSONTree {
        try bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONReader(bytes: buffer, name: name)
            let value = try reader.value()
            reader.skipSpace()
            if reader.pos != buffer.count { throw reader.fail("trailing characters") }
            return value
        }
    }

    subscript(key: String) -> JSONTree? {
        guard case .object(let members) = self else { return nil }
        let wanted = Array(key.utf8)
        return members.first(where: { $0.key == wanted })?.value
    }

    var isNull: Bool { if case .null = self { return true } else { return false } }
    var string: String? { bytes.map { String(decoding: $0, as: UTF8.self) } }
    var bytes: [UInt8]? { if case .string(let b) = self { return b } else { return nil } }
    var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    var array: [JSONTree]? { if case .array(let a) = self { return a } else { return nil } }
    var members: [(key: [UInt8], value: JSONTree)]? { if case .object(let m) = self { return m } else { return nil } }
    var double: Double? { if case .number(let d) = self { return d } else { return nil } }

    /// An integer value, if this is a number without a fractional part.
    var int: Int? {
        guard case .number(let d) = self, d.rounded() == d, abs(d) < 9.0e15 else { return nil }
        return Int(d)
    }
}

private struct JSONReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let name: String
    var pos = 0

    init(bytes: UnsafeBufferPointer<UInt8>, name: String) {
        self.bytes = bytes
        self.name = name
    }

    func fail(_ what: String) -> EmbedliteError {
        .invalidArtifact("\(name) is not valid JSON at byte \(pos): \(what)")
    }

    mutating func skipSpace() {
        while pos < bytes.count {
            let c = bytes[pos]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            pos += 1
        }
    }

    mutating func value() throws -> JSONTree {
        skipSpace()
        guard pos < bytes.count else { throw fail("unexpected end") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        default: return .number(try number())
        }
    }

    mutating func literal(_ word: String) throws {
        let expected = Array(word.utf8)
        guard pos + expected.count <= bytes.count, bytes[pos..<(pos + expected.count)].elementsEqual(expected) else {
            throw fail("expected \(word)")
        }
        pos += expected.count
    }

    mutating func object() throws -> JSONTree {
        var members: [(key: [UInt8], value: JSONTree)] = []
        pos += 1
        skipSpace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
        while true {
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a key") }
            let key = try string()
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            pos += 1
            members.append((key, try value()))
            skipSpace()
            guard pos < bytes.count else { throw fail("unexpected end") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            throw fail("expected ',' or '}'")
        }
    }

    mutating func array() throws -> JSONTree {
        var items: [JSONTree] = []
        pos += 1
        skipSpace()
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            items.append(try value())
            skipSpace()
            guard pos < bytes.count else { throw fail("unexpected end") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    /// The string's UTF-8 bytes, escapes decoded (a \u escape of an unpaired surrogate becomes U+FFFD).
    mutating func string() throws -> [UInt8] {
        pos += 1
        let start = pos
        while pos < bytes.count && bytes[pos] != UInt8(ascii: "\"") && bytes[pos] != UInt8(ascii: "\\") { pos += 1 }
        var out = Array(bytes[start..<min(pos, bytes.count)])
        while true {
            guard pos < bytes.count else { throw fail("unterminated string") }
            let c = bytes[pos]
            pos += 1
            if c == UInt8(ascii: "\"") { return out }
            if c != UInt8(ascii: "\\") { out.append(c); continue }
            guard pos < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try hex4()
                if (0xD800..<0xDC00).contains(code), pos + 1 < bytes.count,
                   bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
                    let save = pos
                    pos += 2
                    let low = try hex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save
                    }
                }
                out.append(contentsOf: String(Unicode.Scalar(code) ?? "\u{FFFD}").utf8)
            default: throw fail("bad escape")
            }
        }
    }

    mutating func hex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("bad \\u escape")
            }
            v = v * 16 + digit
            pos += 1
        }
        return v
    }

    mutating func number() throws -> Double {
        let start = pos
        var integer = true
        var value = 0.0
        var negative = false
        if pos < bytes.count && bytes[pos] == UInt8(ascii: "-") { negative = true; pos += 1 }
        while pos < bytes.count {
            let c = bytes[pos]
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                value = value * 10 + Double(c - UInt8(ascii: "0"))
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                        || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                integer = false
            } else {
                break
            }
            pos += 1
        }
        if integer && pos > start + (negative ? 1 : 0) && pos - start < 16 { return negative ? -value : value }
        guard let parsed = Double(String(decoding: bytes[start..<pos], as: UTF8.self)) else {
            throw fail("expected a value")
        }
        return parsed
    }
}
