import Foundation

/// Text to token ids, exactly as Hugging Face `tokenizers` encodes with the artifact's tokenizer.json: special
/// tokens written in the text matched first, the template's special tokens added, truncated to `maxLength`.
public protocol TextTokenizer: Sendable {
    /// Longest encoding, special tokens included (the manifest's max_seq_length).
    var maxLength: Int { get }
    /// The id that pads a batch (`[PAD]` or `<pad>`, else 0, as the Python runtime picks it).
    var padId: Int32 { get }
    func encode(_ text: String) -> [Int32]
}

/// Reads tokenizer.json: a WordPiece (BERT family), a BPE with byte fallback (Gemma 3) or a SentencePiece Unigram
/// (XLM-R, multilingual-e5) tokenizer.
public func loadTokenizer(_ url: URL, maxLength: Int) throws -> any TextTokenizer {
    let data: Data
    do {
        data = try Data(contentsOf: url)
    } catch {
        throw EmbedliteError.invalidArtifact("\(url.path) could not be read: \(error.localizedDescription)")
    }
    return try loadTokenizer(json: [UInt8](data), name: url.lastPathComponent, maxLength: maxLength)
}

func loadTokenizer(json: [UInt8], name: String, maxLength: Int) throws -> any TextTokenizer {
    guard maxLength > 0 else { throw EmbedliteError.invalidInput("maxLength must be positive, got \(maxLength)") }
    let root = try JSONTree.parse(json, name: name)
    let spec = TokenizerSpec(root: root, name: name)
    switch try spec.string(root["model"]?["type"], "model.type") {
    case "WordPiece": return try WordPieceTokenizer(spec, maxLength: maxLength)
    case "BPE": return try BPETokenizer(spec, maxLength: maxLength)
    case "Unigram": return try UnigramTokenizer(spec, maxLength: maxLength)
    case let other:
        throw EmbedliteError.invalidArtifact(
            "\(name): tokenizer model '\(other)' is not supported (WordPiece, BPE with byte fallback and Unigram are)")
    }
}

/// Reading helpers over a parsed tokenizer.json, with errors that name the file and the field.
struct TokenizerSpec {
    let root: JSONTree
    let name: String

    func fail(_ what: String) -> EmbedliteError { .invalidArtifact("\(name): \(what)") }

    func string(_ value: JSONTree?, _ field: String) throws -> String {
        guard let s = value?.string else { throw fail("\(field) should be a string") }
        return s
    }

    func int(_ value: JSONTree?, _ field: String) throws -> Int {
        guard let i = value?.int else { throw fail("\(field) should be an integer") }
        return i
    }

    func flag(_ value: JSONTree?, _ field: String, default fallback: Bool) throws -> Bool {
        guard let value, !value.isNull else { return fallback }
        guard let b = value.bool else { throw fail("\(field) should be true or false") }
        return b
    }

    /// The model's vocabulary, keyed by each token's UTF-8 bytes.
    func vocabulary() throws -> [[UInt8]: Int32] {
        guard let members = root["model"]?["vocab"]?.members else { throw fail("model.vocab should be an object") }
        var vocab = [[UInt8]: Int32](minimumCapacity: members.count)
        for (token, id) in members {
            guard let i = id.int, let id32 = Int32(exactly: i), id32 >= 0 else {
                throw fail("model.vocab: the id of '\(String(decoding: token, as: UTF8.self))' is not a valid id")
            }
            vocab[token] = id32
        }
        return vocab
    }

    /// added_tokens as a matcher over raw text; only the plain kind (no lstrip, rstrip, single_word, normalized)
    /// is implemented, and a tokenizer.json with another kind is refused rather than encoded differently.
    func addedTokens() throws -> AddedTokens {
        var tokens: [(bytes: [UInt8], id: Int32)] = []
        for (i, entry) in (root["added_tokens"]?.array ?? []).enumerated() {
            guard let content = entry["content"]?.bytes, let id = entry["id"]?.int, let id32 = Int32(exactly: id) else {
                throw fail("added_tokens[\(i)] needs a content string and an integer id")
            }
            for option in ["lstrip", "rstrip", "single_word", "normalized"] where entry[option]?.bool == true {
                throw fail("added token '\(String(decoding: content, as: UTF8.self))' sets \(option), "
                    + "which EmbedliteKit does not implement")
            }
            if !content.isEmpty { tokens.append((content, id32)) }
        }
        return AddedTokens(tokens)
    }

    /// The special tokens the post-processor puts before and after the text's tokens.
    func template(idOf: ([UInt8]) -> Int32?) throws -> (head: [Int32], tail: [Int32]) {
        guard let post = root["post_processor"], !post.isNull else { return ([], []) }
        switch try string(post["type"], "post_processor.type") {
        case "BertProcessing":
            guard let cls = post["cls"]?.array, cls.count == 2, let sep = post["sep"]?.array, sep.count == 2,
                  let clsId = cls[1].int, let sepId = sep[1].int else {
                throw fail("post_processor cls and sep should be [token, id] pairs")
            }
            return ([Int32(clsId)], [Int32(sepId)])
        case "TemplateProcessing":
            guard let single = post["single"]?.array else { throw fail("post_processor.single should be a list") }
            var head: [Int32] = [], tail: [Int32] = []
            var seenSequence = false
            for piece in single {
                if piece["Sequence"] != nil { seenSequence = true; continue }
                guard let token = piece["SpecialToken"]?["id"]?.string else {
                    throw fail("post_processor.single holds a piece that is neither Sequence nor SpecialToken")
                }
                let ids: [Int32]
                if let listed = post["special_tokens"]?[token]?["ids"]?.array {
                    ids = try listed.map { Int32(try int($0, "post_processor.special_tokens.\(token).ids")) }
                } else if let id = idOf(Array(token.utf8)) {
                    ids = [id]
                } else {
                    throw fail("post_processor special token '\(token)' is not in the vocabulary")
                }
                if seenSequence { tail += ids } else { head += ids }
            }
            return (head, tail)
        case let other:
            throw fail("post-processor '\(other)' is not supported (TemplateProcessing and BertProcessing are)")
        }
    }

    /// The id that pads a batch, picked as the Python runtime picks it.
    static func padId(_ idOf: ([UInt8]) -> Int32?) -> Int32 {
        idOf(Array("[PAD]".utf8)) ?? idOf(Array("<pad>".utf8)) ?? 0
    }
}

/// Special tokens written in the text, matched on the raw text before anything else, leftmost-longest as
/// `tokenizers` does (a byte trie: Gemma 3 has 6,415 added tokens).
struct AddedTokens: Sendable {
    enum Piece {
        case text(ArraySlice<UInt8>)
        case token(Int32)
    }

    private var edges: [Int: Int32] = [:]  // node << 8 | byte -> child node
    private var tokenAt: [Int32] = [-1]  // node -> token id, -1 where no token ends
    var isEmpty: Bool { tokenAt.count == 1 }

    init(_ tokens: [(bytes: [UInt8], id: Int32)]) {
        for (bytes, id) in tokens {
            var node = 0
            for b in bytes {
                let key = node << 8 | Int(b)
                if let child = edges[key] {
                    node = Int(child)
                } else {
                    tokenAt.append(-1)
                    edges[key] = Int32(tokenAt.count - 1)
                    node = tokenAt.count - 1
                }
            }
            tokenAt[node] = id
        }
    }

    /// The text cut into runs of plain text and matched tokens, in order.
    func split(_ text: [UInt8]) -> [Piece] {
        if isEmpty { return text.isEmpty ? [] : [.text(text[...])] }
        var pieces: [Piece] = []
        var start = 0, i = 0
        while i < text.count {
            var node = 0, j = i
            var match: (end: Int, id: Int32)?
            while j < text.count, let child = edges[node << 8 | Int(text[j])] {
                node = Int(child)
                j += 1
                if tokenAt[node] >= 0 { match = (j, tokenAt[node]) }
            }
            guard let (end, id) = match else { i += 1; continue }
            if i > start { pieces.append(.text(text[start..<i])) }
            pieces.append(.token(id))
            i = end
            start = end
        }
        if start < text.count { pieces.append(.text(text[start...])) }
        return pieces
    }
}

/// What every tokenizer does around its model: special tokens written in the text matched first, the template's
/// special tokens added, and truncation that keeps the first tokens and leaves room for the special ones, as
/// `tokenizers` does.
struct EncodingFrame: Sendable {
    let added: AddedTokens
    let head: [Int32]
    let tail: [Int32]
    let maxLength: Int
    let padId: Int32

    /// idOf: a token's id in the model's vocabulary, for the template's tokens and the padding.
    init(_ spec: TokenizerSpec, idOf: ([UInt8]) -> Int32?, maxLength: Int) throws {
        added = try spec.addedTokens()
        (head, tail) = try spec.template(idOf: idOf)
        self.maxLength = maxLength
        padId = TokenizerSpec.padId(idOf)
    }

    init(_ spec: TokenizerSpec, vocab: [[UInt8]: Int32], maxLength: Int) throws {
        try self.init(spec, idOf: { vocab[$0] }, maxLength: maxLength)
    }

    /// The ids of `text`; `model` appends the ids of each run of text between special tokens.
    func encode(_ text: String, model: (ArraySlice<UInt8>, inout [Int32]) -> Void) -> [Int32] {
        var ids: [Int32] = []
        for piece in added.split(Array(text.utf8)) {
            switch piece {
            case .token(let id): ids.append(id)
            case .text(let bytes): model(bytes, &ids)
            }
        }
        let room = max(0, maxLength - head.count - tail.count)
        return head + ids.prefix(room) + tail
    }
}
