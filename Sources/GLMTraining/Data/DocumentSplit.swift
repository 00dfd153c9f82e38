// Train/valid/test partition of documents, as the original's `split_ds` (--split 949,50,1): shuffle
// the document indices with a fixed seed, then cut consecutive shares, carrying fractional remainders
// so the parts add up.

public enum DocumentSplit {
    /// Parses "949,50,1" or "949/50/1".
    public static func parseWeights(_ text: String) throws -> [Double] {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == "/" }).map { String($0).trimmingSpaces }
        let weights = parts.compactMap(Double.init)
        guard !parts.isEmpty, weights.count == parts.count, weights.allSatisfy({ $0 >= 0 }), weights.reduce(0, +) > 0 else {
            throw BlankInfillingError.invalidConfig("split \"\(text)\" must be non-negative numbers separated by ',' or '/', not all zero")
        }
        return weights
    }

    /// Document indices of each part (an empty array for a zero weight). A part with a non-zero weight
    /// gets at least one document, as in the original.
    public static func split(documentCount: Int, weights: [Double], seed: UInt64 = 1234, shuffle: Bool = true) -> [[Int]] {
        var indices = Array(0..<documentCount)
        if shuffle {
            var rng = DataRandom(seed: seed, stream: .documentSplit, index: 0)
            rng.shuffle(&indices)
        }
        let total = weights.reduce(0, +)
        var result: [[Int]] = []
        var start = 0
        var residual = 0.0
        for w in weights {
            guard w != 0 else { result.append([]); continue }
            let proportion = Double(documentCount) * (w / total)
            residual += proportion.truncatingRemainder(dividingBy: 1)
            let size = Int(Double(Int(proportion)) + residual)
            let end = min(documentCount, start + max(size, 1))
            result.append(start < end ? Array(indices[start..<end]) : [])
            start += size
            residual = residual.truncatingRemainder(dividingBy: 1)
        }
        return result
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first?.isWhitespace == true { s.removeFirst() }
        while s.last?.isWhitespace == true { s.removeLast() }
        return String(s)
    }
}
