import Foundation

/// A tokenizer.json normalizer, as Hugging Face `tokenizers` applies it to the text between added tokens: a
/// Sequence, Replace (a literal string or a regex; the content goes in literally) or Precompiled (SentencePiece's
/// charsmap). Works on UTF-8 bytes, as the tokenizers do.
indirect enum Normalizer: Sendable {
    case sequence([Normalizer])
    case replace(pattern: [UInt8], content: [UInt8])
    case regex(RegexReplacement)
    case precompiled(PrecompiledCharsmap)

    /// From the tokenizer.json "normalizer" object; none (absent or null) is an empty sequence, another type is
    /// refused by name.
    init(_ value: JSONTree?, _ spec: TokenizerSpec) throws {
        guard let value, !value.isNull else { self = .sequence([]); return }
        switch try spec.string(value["type"], "normalizer.type") {
        case "Sequence":
            guard let steps = value["normalizers"]?.array else {
                throw spec.fail("normalizer Sequence: normalizers should be a list")
            }
            self = .sequence(try steps.map { try Normalizer($0, spec) })
        case "Replace":
            guard let content = value["content"]?.bytes else { throw spec.fail("Replace normalizer: no content string") }
            if let pattern = value["pattern"]?["String"]?.bytes, !pattern.isEmpty {
                self = .replace(pattern: pattern, content: content)
            } else if let pattern = value["pattern"]?["Regex"]?.string {
                self = .regex(try RegexReplacement(pattern, content: String(decoding: content, as: UTF8.self), spec))
            } else {
                throw spec.fail("Replace normalizer: the pattern should be a String or a Regex")
            }
        case "Precompiled":
            guard let base64 = value["precompiled_charsmap"]?.string, let data = Data(base64Encoded: base64) else {
                throw spec.fail("Precompiled normalizer: precompiled_charsmap should be base64")
            }
            self = .precompiled(try PrecompiledCharsmap([UInt8](data), spec))
        case let other:
            throw spec.fail("normalizer \(other) is not supported (Sequence, Replace and Precompiled are)")
        }
    }

    func normalize(_ text: [UInt8]) -> [UInt8] {
        switch self {
        case .sequence(let steps): return steps.reduce(text) { $1.normalize($0) }
        case .replace(let pattern, let content): return Normalizer.replace(pattern, with: content, in: text)
        case .regex(let regex): return regex.apply(text)
        case .precompiled(let charsmap): return charsmap.normalize(text)
        }
    }

    /// Every non-overlapping occurrence of `pattern`, leftmost first, replaced by `content`.
    static func replace(_ pattern: [UInt8], with content: [UInt8], in text: [UInt8]) -> [UInt8] {
        guard text.count >= pattern.count else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        while i < text.count {
            if i + pattern.count <= text.count && text[i..<(i + pattern.count)].elementsEqual(pattern) {
                out += content
                i += pattern.count
            } else {
                out.append(text[i])
                i += 1
            }
        }
        return out
    }
}

/// A Replace normalizer with a regex pattern (Foundation's engine: the patterns tokenizer.json files use, such as
/// XLM-R's " {2,}", mean the same there as in `tokenizers`' Oniguruma).
struct RegexReplacement: @unchecked Sendable {  // NSRegularExpression is immutable and safe to share
    private let regex: NSRegularExpression
    private let template: String

    init(_ pattern: String, content: String, _ spec: TokenizerSpec) throws {
        do {
            regex = try NSRegularExpression(pattern: pattern)
        } catch {
            throw spec.fail("Replace normalizer: the regex '\(pattern)' does not compile: \(error)")
        }
        template = NSRegularExpression.escapedTemplate(for: content)
    }

    func apply(_ text: [UInt8]) -> [UInt8] {
        let s = String(decoding: text, as: UTF8.self)
        let replaced = regex.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s),
                                                      withTemplate: template)
        return Array(replaced.utf8)
    }
}
