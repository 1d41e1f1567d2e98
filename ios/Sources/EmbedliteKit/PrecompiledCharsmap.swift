/// SentencePiece's normalizer as a tokenizer.json carries it (`Precompiled`, the base64 `precompiled_charsmap`): a
/// double-array trie over UTF-8 bytes whose values point into a blob of NUL-terminated replacements. Applied exactly
/// as `tokenizers` (the spm_precompiled crate) applies it: per grapheme cluster, the whole cluster first when it is
/// under 6 bytes, else (or when the cluster has no entry) scalar by scalar; a lookup takes the SHORTEST entry that
/// is a prefix of what it is given, so a short cluster becomes that entry's replacement alone.
struct PrecompiledCharsmap: Sendable {
    private let units: [UInt32]
    private let replacements: [UInt8]

    init(_ charsmap: [UInt8], _ spec: TokenizerSpec) throws {
        guard charsmap.count >= 4 else {
            throw spec.fail("Precompiled: precompiled_charsmap is \(charsmap.count) bytes, too short for a trie")
        }
        func u32(_ at: Int) -> UInt32 {
            UInt32(charsmap[at]) | UInt32(charsmap[at + 1]) << 8 | UInt32(charsmap[at + 2]) << 16
                | UInt32(charsmap[at + 3]) << 24
        }
        let trieBytes = Int(u32(0))
        guard trieBytes > 0, trieBytes % 4 == 0, 4 + trieBytes <= charsmap.count else {
            throw spec.fail("Precompiled: precompiled_charsmap declares a trie of \(trieBytes) bytes in \(charsmap.count)")
        }
        units = (0..<(trieBytes / 4)).map { u32(4 + 4 * $0) }
        replacements = Array(charsmap[(4 + trieBytes)...])
    }

    func normalize(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        // Swift's Characters are extended grapheme clusters (UAX #29), as the unicode-segmentation crate's
        for cluster in String(decoding: text, as: UTF8.self) {
            let bytes = Array(cluster.utf8)
            if bytes.count < 6, let whole = transform(bytes[...]) {
                out += whole
                continue
            }
            var i = 0
            while i < bytes.count {
                var end = i + 1
                while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }  // continuation bytes
                if let replaced = transform(bytes[i..<end]) { out += replaced } else { out += bytes[i..<end] }
                i = end
            }
        }
        return out
    }

    /// The replacement of the shortest trie entry that is a prefix of `key` (a NUL byte ends the key), or nil.
    private func transform(_ key: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var node = PrecompiledCharsmap.offset(units[0])
        for byte in key {
            if byte == 0 { break }
            node ^= Int(byte)
            guard node < units.count else { return nil }  // outside the array: no entry (the crate would panic)
            let unit = units[node]
            if unit & 0x8000_00FF != UInt32(byte) { return nil }  // the leaf bit 31 makes a unit match no byte
            node ^= PrecompiledCharsmap.offset(unit)
            if (unit >> 8) & 1 == 1 {
                guard node < units.count else { return nil }
                let start = Int(units[node] & 0x7FFF_FFFF)
                guard start <= replacements.count else { return nil }
                let end = replacements[start...].firstIndex(of: 0) ?? replacements.count
                return replacements[start..<end]
            }
        }
        return nil
    }

    private static func offset(_ unit: UInt32) -> Int {
        Int((unit >> 10) << ((unit & (1 << 9)) >> 6))
    }
}
