// BERT's `token.lower()` followed by `_run_strip_accents` (NFD, drop Mn), as CPython does them:
// full Unicode lower-case mappings including the Final_Sigma rule, then canonical decomposition
// with canonical reordering. Results per scalar are memoised because Foundation's normaliser is
// far slower than the tokenizer itself.
import Foundation

final class BertScalarNormalizer: @unchecked Sendable {
    private let lock = NSLock()
    /// scalar → its lower-case mapping, fully decomposed (not yet reordered or Mn-stripped).
    private var cache: [UInt32: [UInt32]] = [:]

    private static func lowerThenDecompose(_ v: UInt32) -> [UInt32] {
        guard let scalar = Unicode.Scalar(v) else { return [v] }
        let lowered = scalar.properties.lowercaseMapping
        return lowered.decomposedStringWithCanonicalMapping.unicodeScalars.map { $0.value }
    }

    /// Python's Final_Sigma test for U+03A3 at `i` in `word` (CPython `handle_capital_sigma`).
    private static func isFinalSigma(_ word: [UInt32], _ i: Int) -> Bool {
        func cased(_ v: UInt32) -> Bool { Unicode.Scalar(v)?.properties.isCased ?? false }
        func ignorable(_ v: UInt32) -> Bool { Unicode.Scalar(v)?.properties.isCaseIgnorable ?? false }
        var j = i - 1
        while j >= 0 && ignorable(word[j]) { j -= 1 }
        guard j >= 0 && cased(word[j]) else { return false }
        var k = i + 1
        while k < word.count && ignorable(word[k]) { k += 1 }
        return k == word.count || !cased(word[k])
    }

    /// `lower()` then NFD then drop category Mn, for a word containing non-ASCII scalars.
    func lowerAndStripAccents(_ word: [UInt32], into out: inout [UInt32]) {
        out.removeAll(keepingCapacity: true)
        lock.lock()
        for (i, v) in word.enumerated() {
            if v < 0x80 {
                out.append((v >= 0x41 && v <= 0x5A) ? v | 0x20 : v)
            } else if v == 0x3A3 {
                out.append(BertScalarNormalizer.isFinalSigma(word, i) ? 0x3C2 : 0x3C3)
            } else if let cached = cache[v] {
                out.append(contentsOf: cached)
            } else {
                let d = BertScalarNormalizer.lowerThenDecompose(v)
                cache[v] = d
                out.append(contentsOf: d)
            }
        }
        lock.unlock()
        // Canonical ordering: stable sort of each run of non-starters by combining class.
        var i = 0
        while i < out.count {
            if combiningClass(out[i]) == 0 { i += 1; continue }
            var j = i
            while j < out.count && combiningClass(out[j]) != 0 { j += 1 }
            if j - i > 1 {
                let run = out[i..<j].enumerated().sorted {
                    let a = combiningClass($0.element), b = combiningClass($1.element)
                    return a != b ? a < b : $0.offset < $1.offset
                }.map { $0.element }
                out.replaceSubrange(i..<j, with: run)
            }
            i = j
        }
        out.removeAll { scalarClass($0).contains(.nonspacingMark) }
    }

    @inline(__always)
    private func combiningClass(_ v: UInt32) -> UInt8 {
        if v < 0x300 { return 0 }
        return Unicode.Scalar(v)?.properties.canonicalCombiningClass.rawValue ?? 0
    }
}
