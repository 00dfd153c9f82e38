// Where blanks go: ports of the original's span-placement and sentence-span rules
// (ConstructBlockStrategy.sample_spans, sample_span_in_document, the sentence branch of construct_blocks).

enum SpanSampling {
    /// Places spans of the given lengths (in that order) uniformly inside `offset ..< offset+total`,
    /// with at least one unblanked token between consecutive spans (original `sample_spans`).
    /// Requires `sum(lengths) + lengths.count - 1 <= total`.
    static func place(lengths: [Int], total: Int, offset: Int, rng: inout DataRandom) -> [BlankSpan] {
        let free = total - lengths.reduce(0, +)
        let m = free - lengths.count + 1
        precondition(m >= 0, "spans \(lengths) do not fit in \(total) tokens")
        var places = (0..<lengths.count).map { _ in rng.below(m + 1) }
        places.sort()
        var spans: [BlankSpan] = []
        var shift = offset
        for (place, length) in zip(places, lengths) {
            spans.append((shift + place)..<(shift + place + length))
            shift += length + 1
        }
        return spans
    }

    /// Distributes token-level spans over the documents packed in one sample (original
    /// `sample_span_in_document`): documents are the stretches between eos tokens (a leading [CLS]
    /// excluded, and the sample's very last token excluded); every document but the longest gets about
    /// `bertRatio` of its length, the longest gets the spans still unplaced that fit. Returns fewer spans
    /// than lengths when they do not all fit (the caller then drops the sample, as the original does).
    static func placeInDocuments(tokens: [Int32], lengths: [Int], bertRatio: Double, eos: Int32, enc: Int32,
                                 rng: inout DataRandom) -> [BlankSpan] {
        var lengths = lengths
        rng.shuffle(&lengths)
        let n = tokens.count
        var boundaries = [-1]
        for (i, t) in tokens.enumerated() where t == eos { boundaries.append(i) }
        var documents: [(offset: Int, length: Int, order: Int)] = []
        var lastIndex = n
        for index in boundaries.reversed() {
            var start = index
            if start + 1 < n && tokens[start + 1] == enc { start += 1 }
            var length = lastIndex - start - 1
            if lastIndex == n && length > 0 { length -= 1 }
            documents.append((start + 1, length, documents.count))
            lastIndex = index
        }
        // Python's sort is stable: ties keep their order, hence the tie-breaker.
        documents.sort { ($0.length, $0.order) < ($1.length, $1.order) }

        var spans: [BlankSpan] = []
        var next = 0
        for (i, document) in documents.enumerated() {
            var sum = 0, count = 0
            if i == documents.count - 1 {
                while next + count < lengths.count && lengths[next + count] + sum + count <= document.length {
                    sum += lengths[next + count]; count += 1
                }
                if count > 0 {
                    spans += place(lengths: Array(lengths[next..<(next + count)]), total: document.length,
                                   offset: document.offset, rng: &rng)
                }
            } else {
                let budget = Int(Double(document.length) * bertRatio)
                while next + count < lengths.count && lengths[next + count] + sum <= budget {
                    sum += lengths[next + count]; count += 1
                }
                if count > 0 {
                    spans += place(lengths: Array(lengths[next..<(next + count)]), total: document.length,
                                   offset: document.offset, rng: &rng)
                    next += count
                }
            }
        }
        return spans
    }

    /// Sentence spans of a sample (sentence branch of `construct_blocks`): a sentence ends after a token
    /// with the span sentence-end flag; an eos token closes the current stretch without making it a
    /// sentence; what follows the last sentence end is a sentence too. A leading [CLS] is excluded.
    static func sentences(of sample: PackedSample, eos: Int32, enc: Int32) -> [BlankSpan] {
        var spans: [BlankSpan] = []
        var last = sample.tokens.first == enc ? 1 : 0
        for i in 0..<sample.count {
            if sample.sentenceFlags[i] & SentenceEnd.spanBit != 0 {
                if last < i + 1 { spans.append(last..<(i + 1)) }
                last = i + 1
            } else if sample.tokens[i] == eos {
                last = i + 1
            }
        }
        if last < sample.count { spans.append(last..<sample.count) }
        return spans
    }
}
