import Foundation

/// A BPE tokenizer.json with byte fallback, as Gemma 3 (EmbeddingGemma) ships it: `Replace(" " -> "▁")`
/// normalizer, a `Split(" ", MergedWithPrevious)` pre-tokenizer, merges applied lowest rank first and leftmost
/// first among equals, characters missing from the vocabulary spelled as `<0xXX>` byte tokens. Gives the ids
/// Hugging Face `tokenizers` gives, the template's `<bos>`/`<eos>` and truncation included.
struct BPETokenizer: TextTokenizer {
    var maxLength: Int { frame.maxLength }
    var padId: Int32 { frame.padId }
    private let vocab: [[UInt8]: Int32]
    private let merges: [UInt64: UInt64]  // (left id << 32 | right id) -> (rank << 32 | merged id)
    private let byteIds: [Int32?]  // <0x00> ... <0xFF>
    private let byteFallback: Bool
    private let unkId: Int32?
    private let fuseUnk: Bool
    private let ignoreMerges: Bool
    private let normalizer: Normalizer
    private let splitAfter: [UInt8]?  // Split(pattern, MergedWithPrevious): a word ends after each match
    private let frame: EncodingFrame

    init(_ spec: TokenizerSpec, maxLength: Int) throws {
        let model = spec.root["model"]
        for option in ["continuing_subword_prefix", "end_of_word_suffix"] where !(model?[option]?.isNull ?? true) {
            throw spec.fail("BPE model.\(option) is set, which EmbedliteKit does not implement")
        }
        if let dropout = model?["dropout"]?.double, dropout > 0 {
            throw spec.fail("BPE model.dropout is \(dropout): dropout is for training, not for inference")
        }
        normalizer = try Normalizer(spec.root["normalizer"], spec)
        splitAfter = try BPETokenizer.splitPattern(spec.root["pre_tokenizer"], spec)
        let vocab = try spec.vocabulary()
        self.vocab = vocab
        merges = try BPETokenizer.merges(model?["merges"], vocab: vocab, spec)
        byteIds = (0..<256).map { vocab[Array(String(format: "<0x%02X>", $0).utf8)] }
        byteFallback = try spec.flag(model?["byte_fallback"], "model.byte_fallback", default: false)
        if let unk = model?["unk_token"]?.string {
            guard let id = vocab[Array(unk.utf8)] else {
                throw spec.fail("unk token '\(unk)' is not in the vocabulary")
            }
            unkId = id
        } else {
            unkId = nil
        }
        fuseUnk = try spec.flag(model?["fuse_unk"], "model.fuse_unk", default: false)
        ignoreMerges = try spec.flag(model?["ignore_merges"], "model.ignore_merges", default: false)
        frame = try EncodingFrame(spec, vocab: vocab, maxLength: maxLength)
    }

    func encode(_ text: String) -> [Int32] {
        frame.encode(text) { bytes, ids in
            for word in words(normalizer.normalize(Array(bytes))) { tokenize(word, into: &ids) }
        }
    }

    /// The pre-tokenizer's words (with Gemma's normalizer no spaces are left, so the whole run is one word).
    private func words(_ text: [UInt8]) -> [[UInt8]] {
        guard let pattern = splitAfter else { return [text] }
        var words: [[UInt8]] = []
        var start = 0, i = 0
        while i + pattern.count <= text.count {
            if text[i..<(i + pattern.count)].elementsEqual(pattern) {
                words.append(Array(text[start..<(i + pattern.count)]))
                i += pattern.count
                start = i
            } else {
                i += 1
            }
        }
        if start < text.count { words.append(Array(text[start...])) }
        return words
    }

    private func tokenize(_ word: [UInt8], into out: inout [Int32]) {
        if word.isEmpty { return }
        if ignoreMerges, let id = vocab[word] { out.append(id); return }
        var symbols = initialSymbols(word)
        mergeAll(&symbols)
        for s in symbols where s.length > 0 { out.append(s.id) }
    }

    private struct Symbol {
        var id: Int32
        var prev: Int
        var next: Int
        var length: Int  // bytes covered; 0 once merged into its left neighbour
    }

    /// One symbol per character (its vocabulary id, else its byte tokens, else the unknown token).
    private func initialSymbols(_ word: [UInt8]) -> [Symbol] {
        var symbols: [Symbol] = []
        symbols.reserveCapacity(word.count)
        func add(_ id: Int32, _ length: Int) {
            if !symbols.isEmpty { symbols[symbols.count - 1].next = symbols.count }
            symbols.append(Symbol(id: id, prev: symbols.count - 1, next: -1, length: length))
        }
        var unk: (id: Int32, length: Int)?
        var i = 0
        while i < word.count {
            var end = i + 1
            while end < word.count && word[end] & 0xC0 == 0x80 { end += 1 }  // continuation bytes
            let char = Array(word[i..<end])
            defer { i = end }
            if let id = vocab[char] {
                if let u = unk { add(u.id, u.length); unk = nil }
                add(id, char.count)
                continue
            }
            let bytes = char.map { byteIds[Int($0)] }
            if byteFallback && !bytes.contains(where: { $0 == nil }) {
                for id in bytes { add(id!, 1) }  // a pending unknown token is not flushed first, as in `tokenizers`
                continue
            }
            guard let unkId else { continue }
            if let u = unk {
                if fuseUnk {
                    unk = (u.id, u.length + char.count)
                    continue
                }
                add(u.id, u.length)
            }
            unk = (unkId, char.count)
        }
        if let u = unk { add(u.id, u.length) }
        return symbols
    }

    /// Applies merges lowest rank first, leftmost first among equal ranks (a min-heap, as `tokenizers`).
    private func mergeAll(_ symbols: inout [Symbol]) {
        var heap = MergeHeap()
        for pos in 0..<max(0, symbols.count - 1) {
            if let m = merges[BPETokenizer.pair(symbols[pos].id, symbols[pos + 1].id)] { heap.push(m, pos) }
        }
        while let (merge, pos) = heap.pop() {
            let left = symbols[pos]
            if left.length == 0 || left.next == -1 { continue }
            let right = symbols[left.next]
            let newId = Int32(truncatingIfNeeded: merge)
            guard let current = merges[BPETokenizer.pair(left.id, right.id)],
                  Int32(truncatingIfNeeded: current) == newId else { continue }  // a stale entry
            symbols[pos].id = newId
            symbols[pos].length += right.length
            symbols[pos].next = right.next
            symbols[left.next].length = 0
            if right.next >= 0 { symbols[right.next].prev = pos }
            let merged = symbols[pos]
            if merged.prev >= 0, let m = merges[BPETokenizer.pair(symbols[merged.prev].id, merged.id)] {
                heap.push(m, merged.prev)
            }
            if merged.next >= 0, let m = merges[BPETokenizer.pair(merged.id, symbols[merged.next].id)] {
                heap.push(m, pos)
            }
        }
    }

    private static func pair(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    private static func merges(_ list: JSONTree?, vocab: [[UInt8]: Int32],
                               _ spec: TokenizerSpec) throws -> [UInt64: UInt64] {
        guard let list = list?.array else { throw spec.fail("model.merges should be a list") }
        var merges = [UInt64: UInt64](minimumCapacity: list.count)
        for (rank, entry) in list.enumerated() {
            let parts: [[UInt8]]
            if let pair = entry.array, pair.count == 2, let a = pair[0].bytes, let b = pair[1].bytes {
                parts = [a, b]
            } else if let line = entry.bytes, let space = line.firstIndex(of: 0x20) {  // the older "a b" form
                parts = [Array(line[..<space]), Array(line[(space + 1)...])]
            } else {
                throw spec.fail("model.merges[\(rank)] should be a pair of tokens")
            }
            guard let a = vocab[parts[0]], let b = vocab[parts[1]], let merged = vocab[parts[0] + parts[1]] else {
                throw spec.fail("model.merges[\(rank)] joins tokens that are not in the vocabulary")
            }
            merges[pair(a, b)] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
        }
        return merges
    }

    /// The literal pattern of a Split(String, MergedWithPrevious) pre-tokenizer; nil when there is none.
    private static func splitPattern(_ value: JSONTree?, _ spec: TokenizerSpec) throws -> [UInt8]? {
        guard let value, !value.isNull else { return nil }
        let type = try spec.string(value["type"], "pre_tokenizer.type")
        guard type == "Split", let pattern = value["pattern"]?["String"]?.bytes, !pattern.isEmpty,
              value["behavior"]?.string == "MergedWithPrevious", value["invert"]?.bool != true else {
            throw spec.fail("pre-tokenizer \(type) is not supported for BPE (Split on a string, MergedWithPrevious is)")
        }
        return pattern
    }
}

/// A binary min-heap of pending merges ordered by (rank, position), as `tokenizers`' BinaryHeap of Merge.
private struct MergeHeap {
    private var items: [(key: UInt64, merge: UInt64, pos: Int)] = []

    mutating func push(_ merge: UInt64, _ pos: Int) {
        let key = (merge >> 32) << 32 | UInt64(pos)
        items.append((key, merge, pos))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent].key <= key { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (merge: UInt64, pos: Int)? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var smallest = i
                if l < items.count && items[l].key < items[smallest].key { smallest = l }
                if r < items.count && items[r].key < items[smallest].key { smallest = r }
                if smallest == i { break }
                items.swapAt(i, smallest)
                i = smallest
            }
        }
        return (top.merge, top.pos)
    }
}
