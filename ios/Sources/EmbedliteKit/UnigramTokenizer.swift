/// A SentencePiece Unigram tokenizer.json, such as XLM-R's and multilingual-e5's (Precompiled charsmap and Replace
/// normalizers, Metaspace pre-tokenizer, `<s> text </s>` template), giving the ids Hugging Face `tokenizers` gives:
/// per word, the Viterbi path of highest total score over the pieces; a character no piece spells is <unk> with the
/// lowest score less 10, and consecutive unknown characters make one <unk>. The design follows the Kotlin core's.
struct UnigramTokenizer: TextTokenizer {
    var maxLength: Int { frame.maxLength }
    var padId: Int32 { frame.padId }
    private let pieces: Pieces
    private let scores: [Double]
    private let unkId: Int32
    private let unkScore: Double
    private let byteFallback: Bool
    private let normalizer: Normalizer
    private let metaspace: Metaspace?
    private let frame: EncodingFrame

    /// tokenizers' K_UNK_PENALTY: an unknown character scores the vocabulary's lowest score less this.
    private static let unkPenalty = 10.0

    init(_ spec: TokenizerSpec, maxLength: Int) throws {
        let model = spec.root["model"]
        guard let entries = model?["vocab"]?.array else { throw spec.fail("model.vocab should be a list") }
        var texts: [[UInt8]] = []
        var scores: [Double] = []
        texts.reserveCapacity(entries.count)
        scores.reserveCapacity(entries.count)
        for (i, entry) in entries.enumerated() {
            guard let pair = entry.array, pair.count == 2, let piece = pair[0].bytes, let score = pair[1].double else {
                throw spec.fail("model.vocab[\(i)] should be [piece, score]")
            }
            texts.append(piece)
            scores.append(score)
        }
        pieces = Pieces(texts)
        self.scores = scores
        unkScore = (scores.min() ?? 0) - UnigramTokenizer.unkPenalty
        // tokenizers loads a Unigram without one but fails on the first unknown character; refused here instead
        let unk = try spec.int(model?["unk_id"], "model.unk_id")
        guard texts.indices.contains(unk) else {
            throw spec.fail("model.unk_id \(unk) is not in the vocabulary of \(texts.count)")
        }
        unkId = Int32(unk)
        byteFallback = try spec.flag(model?["byte_fallback"], "model.byte_fallback", default: false)
        normalizer = try Normalizer(spec.root["normalizer"], spec)
        metaspace = try Metaspace(spec.root["pre_tokenizer"], spec)
        let pieces = self.pieces
        frame = try EncodingFrame(spec, idOf: { pieces.find($0[...]).map(Int32.init) }, maxLength: maxLength)
    }

    func encode(_ text: String) -> [Int32] {
        frame.encode(text) { bytes, ids in
            let normalized = normalizer.normalize(Array(bytes))
            if normalized.isEmpty { return }  // `tokenizers` drops an empty split before pre-tokenizing it
            // a slice keeps its indices: one that starts at 0 begins the text (Metaspace's "first" scheme)
            let words = metaspace?.words(normalized, atStart: bytes.startIndex == 0) ?? [normalized]
            for word in words { viterbi(word, into: &ids) }
        }
    }

    /// The best segmentation of one word, as `tokenizers`' Unigram::encode_optimized (positions are UTF-8 bytes).
    private func viterbi(_ word: [UInt8], into out: inout [Int32]) {
        let size = word.count
        if size == 0 { return }
        var best = [Double](repeating: 0, count: size + 1)
        var from = [Int](repeating: -1, count: size + 1)  // where the best path's last token ending here starts
        var id = [Int32](repeating: 0, count: size + 1)
        var start = 0
        while start < size {
            let here = best[start]
            let charLength = UnigramTokenizer.utf8Length(word[start])
            var single = false
            pieces.prefixes(word, start) { piece, length in
                let end = start + length
                let score = scores[piece] + here
                if from[end] < 0 || score > best[end] {
                    best[end] = score
                    from[end] = start
                    id[end] = Int32(piece)
                }
                if length == charLength { single = true }
            }
            if !single {
                let end = min(start + charLength, size)
                let score = unkScore + here
                if from[end] < 0 || score > best[end] {
                    best[end] = score
                    from[end] = start
                    id[end] = unkId
                }
            }
            start += charLength
        }
        // back from the end; consecutive <unk> tokens are fused into one, then looked up as a piece again
        var reversed: [Int32] = []
        var end = size
        var unkEnd = -1
        while end > 0 {
            let begin = from[end]
            if id[end] == unkId {
                if unkEnd < 0 { unkEnd = end }
            } else {
                if unkEnd >= 0 {
                    unknown(word[end..<unkEnd], into: &reversed)
                    unkEnd = -1
                }
                reversed.append(id[end])
            }
            end = begin
        }
        if unkEnd >= 0 { unknown(word[0..<unkEnd], into: &reversed) }
        out += reversed.reversed()
    }

    /// A fused run of unknown text: its piece if it is one, else its byte tokens, else <unk>. Appended in reverse,
    /// as the caller reverses the list.
    private func unknown(_ text: ArraySlice<UInt8>, into reversed: inout [Int32]) {
        if let id = pieces.find(text) {
            reversed.append(Int32(id))
            return
        }
        if byteFallback {
            let bytes = text.map { pieces.find(UnigramTokenizer.byteToken($0)[...]) }
            if !bytes.contains(where: { $0 == nil }) {
                reversed += bytes.reversed().map { Int32($0!) }
                return
            }
        }
        reversed.append(unkId)
    }

    /// The byte-fallback piece of a byte: <0xE2>.
    private static func byteToken(_ byte: UInt8) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        return Array("<0x".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 15)], UInt8(ascii: ">")]
    }

    private static func utf8Length(_ lead: UInt8) -> Int {
        lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
    }
}

/// The Metaspace pre-tokenizer: spaces become the replacement (▁), which is put before the text (always; or for
/// "first" only before the text's start), and each replacement begins a word (split, MergedWithNext). After
/// WhitespaceSplit (a Sequence of the two, as transformers writes XLM-R's tokenizer.json when it saves one), the text
/// is first cut at every run of Unicode White_Space, which is dropped, and each piece is a text of its own.
struct Metaspace: Sendable {
    private let replacement: [UInt8]
    private let prepend: String
    private let split: Bool
    private var whitespaceSplit = false

    /// nil when the tokenizer.json has no pre-tokenizer; another type is refused by name.
    init?(_ value: JSONTree?, _ spec: TokenizerSpec) throws {
        guard let value, !value.isNull else { return nil }
        let type = try spec.string(value["type"], "pre_tokenizer.type")
        if type == "Sequence" {
            let steps = value["pretokenizers"]?.array ?? []
            let types = steps.map { $0["type"]?.string ?? "?" }
            guard types == ["WhitespaceSplit", "Metaspace"], let metaspace = try Metaspace(steps[1], spec) else {
                throw spec.fail("pre-tokenizer Sequence \(types): only [WhitespaceSplit, Metaspace] is supported with Unigram")
            }
            guard metaspace.prepend != "first" else {
                throw spec.fail("Metaspace: prepend_scheme first after WhitespaceSplit is not supported")
            }
            self = metaspace
            whitespaceSplit = true
            return
        }
        guard type == "Metaspace" else { throw spec.fail("pre-tokenizer \(type): only Metaspace is supported with Unigram") }
        let replacement = value["replacement"]?.string ?? "\u{2581}"
        guard replacement.unicodeScalars.count == 1 else { throw spec.fail("Metaspace: replacement should be one character") }
        self.replacement = Array(replacement.utf8)
        // the older add_prefix_space: false means never; prepend_scheme defaults to always
        prepend = value["add_prefix_space"]?.bool == false ? "never" : value["prepend_scheme"]?.string ?? "always"
        guard ["always", "first", "never"].contains(prepend) else {
            throw spec.fail("Metaspace: prepend_scheme \(prepend) is not supported")
        }
        split = try spec.flag(value["split"], "pre_tokenizer.split", default: true)
    }

    func words(_ text: [UInt8], atStart: Bool) -> [[UInt8]] {
        guard whitespaceSplit else { return metaspace(text, atStart: atStart) }
        return Metaspace.whitespaceSplit(text).flatMap { metaspace($0, atStart: atStart) }
    }

    private static func whitespaceSplit(_ text: [UInt8]) -> [[UInt8]] {
        var words: [[UInt8]] = []
        var word = ""
        for c in String(decoding: text, as: UTF8.self).unicodeScalars {
            if WordPieceTokenizer.isWhitespace(c) {  // Rust's char::is_whitespace, as WhitespaceSplit
                if !word.isEmpty { words.append(Array(word.utf8)); word = "" }
            } else {
                word.unicodeScalars.append(c)
            }
        }
        if !word.isEmpty { words.append(Array(word.utf8)) }
        return words
    }

    private func metaspace(_ text: [UInt8], atStart: Bool) -> [[UInt8]] {
        var s = Normalizer.replace([0x20], with: replacement, in: text)
        if prepend == "always" || (prepend == "first" && atStart), !s.starts(with: replacement) { s = replacement + s }
        guard split else { return [s] }
        var words: [[UInt8]] = []
        var begin = 0, i = 1
        while i + replacement.count <= s.count {
            if s[i..<(i + replacement.count)].elementsEqual(replacement) {
                words.append(Array(s[begin..<i]))
                begin = i
                i += replacement.count
            } else {
                i += 1
            }
        }
        words.append(Array(s[begin...]))
        return words.filter { !$0.isEmpty }
    }
}

/// The vocabulary's pieces as UTF-8, sorted bytewise, for the trie's common-prefix search without a trie: the pieces
/// sharing a prefix are a range of the sorted list, narrowed one byte at a time.
struct Pieces: Sendable {
    private let bytes: [[UInt8]]
    private let order: [Int]

    init(_ bytes: [[UInt8]]) {
        self.bytes = bytes
        // by bytes; equal pieces with the higher id first, as `tokenizers` keeps the later id of a repeated piece
        order = bytes.indices.sorted { a, b in
            bytes[a] == bytes[b] ? a > b : bytes[a].lexicographicallyPrecedes(bytes[b])
        }
    }

    /// Every piece that starts word[start...], shortest first: (id, length in bytes).
    func prefixes(_ word: [UInt8], _ start: Int, _ each: (Int, Int) -> Void) {
        var lo = 0, hi = order.count, k = 0
        while start + k < word.count {
            let c = Int(word[start + k])
            let newLo = bound(lo, hi, k, c)
            hi = bound(newLo, hi, k, c + 1)
            lo = newLo
            if lo == hi { return }
            k += 1
            if bytes[order[lo]].count == k { each(order[lo], k) }
        }
    }

    /// The id of the piece whose bytes are `text`, or nil.
    func find(_ text: ArraySlice<UInt8>) -> Int? {
        var lo = 0, hi = order.count
        for (k, byte) in text.enumerated() {
            let newLo = bound(lo, hi, k, Int(byte))
            hi = bound(newLo, hi, k, Int(byte) + 1)
            lo = newLo
            if lo == hi { return nil }
        }
        return lo < hi && bytes[order[lo]].count == text.count ? order[lo] : nil
    }

    /// In order[lo..<hi] (pieces sharing k bytes), the first whose byte k is >= c (a piece of k bytes sorts first).
    private func bound(_ lo: Int, _ hi: Int, _ k: Int, _ c: Int) -> Int {
        var l = lo, h = hi
        while l < h {
            let mid = (l + h) / 2
            let piece = bytes[order[mid]]
            let key = piece.count > k ? Int(piece[k]) : -1
            if key < c { l = mid + 1 } else { h = mid }
        }
        return l
    }
}
