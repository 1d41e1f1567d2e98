import Foundation

/// The BERT-family tokenizer of a tokenizer.json (BertNormalizer, BertPreTokenizer, WordPiece, a [CLS] … [SEP]
/// template), giving the ids Hugging Face `tokenizers` gives, truncation included. The rules follow the
/// Kotlin core's port; the Unicode categories are those `tokenizers` uses.
struct WordPieceTokenizer: TextTokenizer {
    var maxLength: Int { frame.maxLength }
    var padId: Int32 { frame.padId }
    private let vocab: [[UInt8]: Int32]
    private let frame: EncodingFrame
    private let unkId: Int32
    private let prefix: [UInt8]
    private let maxCharsPerWord: Int
    private let cleanText: Bool
    private let chineseChars: Bool
    private let stripAccents: Bool
    private let lowercase: Bool

    init(_ spec: TokenizerSpec, maxLength: Int) throws {
        let model = spec.root["model"]
        if let normalizer = spec.root["normalizer"], !normalizer.isNull,
           try spec.string(normalizer["type"], "normalizer.type") != "BertNormalizer" {
            throw spec.fail("normalizer \(normalizer["type"]?.string ?? "?"): only BertNormalizer is supported")
        }
        if let pre = spec.root["pre_tokenizer"], !pre.isNull,
           try spec.string(pre["type"], "pre_tokenizer.type") != "BertPreTokenizer" {
            throw spec.fail("pre-tokenizer \(pre["type"]?.string ?? "?"): only BertPreTokenizer is supported")
        }
        let vocab = try spec.vocabulary()
        self.vocab = vocab
        let unk = try spec.string(model?["unk_token"], "model.unk_token")
        guard let unkId = vocab[Array(unk.utf8)] else { throw spec.fail("unk token '\(unk)' is not in the vocabulary") }
        self.unkId = unkId
        prefix = Array((model?["continuing_subword_prefix"]?.string ?? "##").utf8)
        maxCharsPerWord = model?["max_input_chars_per_word"]?.int ?? 100
        let normalizer = spec.root["normalizer"]
        cleanText = try spec.flag(normalizer?["clean_text"], "normalizer.clean_text", default: false)
        chineseChars = try spec.flag(normalizer?["handle_chinese_chars"], "normalizer.handle_chinese_chars",
                                     default: false)
        lowercase = try spec.flag(normalizer?["lowercase"], "normalizer.lowercase", default: false)
        // tokenizers: strip_accents unset follows lowercase
        stripAccents = try spec.flag(normalizer?["strip_accents"], "normalizer.strip_accents", default: lowercase)
        frame = try EncodingFrame(spec, vocab: vocab, maxLength: maxLength)
    }

    func encode(_ text: String) -> [Int32] {
        frame.encode(text) { bytes, ids in
            for word in preTokenize(normalize(String(decoding: bytes, as: UTF8.self))) { wordPiece(word, into: &ids) }
        }
    }

    private func normalize(_ text: String) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            if cleanText && (s.value == 0 || s.value == 0xFFFD || WordPieceTokenizer.isControl(s)) { continue }
            if cleanText && WordPieceTokenizer.isWhitespace(s) {
                scalars.append(" ")
            } else if chineseChars && WordPieceTokenizer.isChinese(s) {
                scalars += [" ", s, " "]
            } else {
                scalars.append(s)
            }
        }
        if stripAccents && scalars.contains(where: { !$0.isASCII }) {
            let decomposed = String(String.UnicodeScalarView(scalars)).decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {  // per character, as Rust's char::to_lowercase: no context (a final sigma stays σ)
            scalars = scalars.flatMap { s in
                s.isASCII ? [Unicode.Scalar(UInt8(ascii: s) | (s.properties.isUppercase ? 0x20 : 0))]
                    : Array(s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return scalars
    }

    /// Words split on whitespace (dropped) and punctuation (each its own word).
    private func preTokenize(_ scalars: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var words: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in scalars {
            if WordPieceTokenizer.isWhitespace(s) {
                if !current.isEmpty { words.append(current); current.removeAll() }
            } else if WordPieceTokenizer.isPunctuation(s) {
                if !current.isEmpty { words.append(current); current.removeAll() }
                words.append([s])
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Greedy longest-match-first over characters; a word with no full match is one unknown token.
    private func wordPiece(_ word: [Unicode.Scalar], into out: inout [Int32]) {
        if word.count > maxCharsPerWord { out.append(unkId); return }
        var offsets = [0]  // UTF-8 offset of each character, and the end
        var bytes: [UInt8] = []
        for s in word {
            bytes += String(s).utf8
            offsets.append(bytes.count)
        }
        var pieces: [Int32] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32?
            while start < end {
                let sub = bytes[offsets[start]..<offsets[end]]
                found = vocab[start > 0 ? prefix + sub : Array(sub)]
                if found != nil { break }
                end -= 1
            }
            guard let id = found else { out.append(unkId); return }
            pieces.append(id)
            start = end
        }
        out += pieces
    }

    /// White_Space, plus tab and newlines (which `tokenizers` counts as whitespace, not control).
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

    /// Cc, Cf, Co and Cs, but not tab and newlines. Unassigned code points (Cn) are kept, as `tokenizers`
    /// keeps them.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) {
            return true
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isChinese(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true  // tokenizers' ranges (no 2B820...)
        default: return false
        }
    }
}
