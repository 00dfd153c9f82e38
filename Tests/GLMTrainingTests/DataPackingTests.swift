// Packed samples (BlockDataset port), document splits and the seeded generator.
import XCTest
@testable import GLMTraining

final class DataPackingTests: XCTestCase {
    /// Splits a sample into its pieces: each starts with [CLS]; a piece ends after its eos (or at the end).
    private func pieces(_ tokens: [Int32]) -> [[Int32]] {
        var result: [[Int32]] = []
        for t in tokens {
            if t == testCommands.enc { result.append([]) } else { result[result.count - 1].append(t) }
        }
        return result
    }

    private func isContiguousPart(_ piece: [Int32], of doc: [Int32]) -> Bool {
        if piece.isEmpty { return true }
        if piece.count > doc.count { return false }
        return (0...(doc.count - piece.count)).contains { Array(doc[$0..<($0 + piece.count)]) == piece }
    }

    func testSamplesArePiecesOfDocumentsFilledToTheSequenceLength() throws {
        let store = syntheticDocuments(lengths: syntheticLengths(count: 60, range: 5...200))
        let withEOS = store.documents.map { $0 + [testCommands.eos] }
        let source = try PackedSampleSource(store: store, seqLength: 64, commands: testCommands, seed: 9)
        var full = 0, sentenceStarts = 0, cutStarts = 0
        for k in 0..<250 {
            let s = source.sample(k)
            XCTAssertEqual(s.tokens.first, testCommands.enc)
            XCTAssertLessThanOrEqual(s.count, 64)
            XCTAssertEqual(s.lossMask, s.tokens.map { $0 == testCommands.enc ? 0 : 1 }, "[CLS] has loss 0, everything else 1")
            XCTAssertEqual(s.sentenceFlags, s.tokens.map { $0 == 10 ? 3 : 0 }, "flags travel with their tokens")
            // Filled up to the length, or ended early at a sentence end / eos, keeping at least half. (A room
            // of one token gets a lone [CLS], as in the original.)
            if s.count == 64 { full += 1 } else { XCTAssertTrue([10, testCommands.eos, testCommands.enc].contains(s.tokens.last!), "sample \(k) ends at a sentence end") }
            XCTAssertGreaterThanOrEqual(s.count, 32)
            for piece in pieces(s.tokens) {
                XCTAssertTrue(withEOS.contains { isContiguousPart(piece, of: $0) }, "sample \(k): a piece is a contiguous part of one document")
            }
            // A cut long document: its window starts at a sentence start (just after ".") or at the document start.
            let first = pieces(s.tokens)[0]
            if let doc = withEOS.first(where: { isContiguousPart(first, of: $0) }), doc.count > 63 {
                cutStarts += 1
                let at = (0...(doc.count - first.count)).first { Array(doc[$0..<($0 + first.count)]) == first }!
                if at == 0 || doc[at - 1] == 10 { sentenceStarts += 1 }
            }
        }
        print("packing: \(full) of 250 samples exactly full, \(sentenceStarts) of \(cutStarts) cut windows start at a sentence")
        XCTAssertGreaterThan(full, 10)
        XCTAssertGreaterThan(cutStarts, 50)
        XCTAssertGreaterThan(Double(sentenceStarts) / Double(cutStarts), 0.9)
    }

    /// Documents are drawn proportionally to their length (the original's token weighting).
    func testDocumentsAreDrawnByLength() throws {
        let store = InMemoryDocuments(documents: [[Int32](repeating: 100, count: 10), [Int32](repeating: 200, count: 30)],
                                      tokenString: { _ in "w" })
        let source = try PackedSampleSource(store: store, seqLength: 100, commands: testCommands, seed: 1, sampleAcrossDocuments: false)
        let n = 4000
        let firstIsShort = (0..<n).filter { source.sample($0).tokens[1] == 100 }.count
        let share = Double(firstIsShort) / Double(n)
        XCTAssertEqual(share, 0.25, accuracy: 4 * (0.25 * 0.75 / Double(n)).squareRoot(), "a 10-token document among 40 tokens")
        // Without packing a sample is exactly one document: [CLS] tokens eos.
        XCTAssertTrue([12, 32].contains(source.sample(5).count))
    }

    func testSubsetAndEmptyInputs() throws {
        let store = syntheticDocuments(lengths: [0, 50, 0, 40])
        let source = try PackedSampleSource(store: store, documents: [1], seqLength: 32, commands: testCommands, seed: 1)
        let doc = store.documents[1] + [testCommands.eos]
        for k in 0..<50 {
            for piece in pieces(source.sample(k).tokens) { XCTAssertTrue(isContiguousPart(piece, of: doc)) }
        }
        XCTAssertThrowsError(try PackedSampleSource(store: store, documents: [0, 2], seqLength: 32, commands: testCommands, seed: 1))
        XCTAssertThrowsError(try PackedSampleSource(store: store, documents: [9], seqLength: 32, commands: testCommands, seed: 1))
    }

    func testDocumentSplitLikeTheOriginal() throws {
        XCTAssertEqual(try DocumentSplit.parseWeights("949,50,1"), [949, 50, 1])
        XCTAssertEqual(try DocumentSplit.parseWeights("8/2"), [8, 2])
        XCTAssertThrowsError(try DocumentSplit.parseWeights("a,b"))
        XCTAssertThrowsError(try DocumentSplit.parseWeights("0,0"))
        let parts = DocumentSplit.split(documentCount: 1000, weights: [949, 50, 1])
        XCTAssertEqual(parts.map(\.count), [949, 50, 1])
        XCTAssertEqual(Set(parts.flatMap { $0 }).count, 1000, "a partition")
        XCTAssertEqual(parts, DocumentSplit.split(documentCount: 1000, weights: [949, 50, 1]), "deterministic")
        XCTAssertNotEqual(parts[0], Array(0..<949), "shuffled")
        let small = DocumentSplit.split(documentCount: 10, weights: [949, 50, 1])
        XCTAssertEqual(small.map(\.count), [9, 1, 1], "a non-zero part gets at least one document, as the original")
        XCTAssertEqual(DocumentSplit.split(documentCount: 10, weights: [1, 0]).map(\.count), [10, 0])
    }

    func testGeneratorBasics() {
        var a = DataRandom(seed: 5, stream: .batch, index: 3)
        var b = DataRandom(seed: 5, stream: .batch, index: 3)
        XCTAssertEqual((0..<10).map { _ in a.next() }, (0..<10).map { _ in b.next() })
        var c = DataRandom(seed: 5, stream: .batch, index: 4)
        var d = DataRandom(seed: 5, stream: .packedSample, index: 3)
        let first = DataRandom(seed: 5, stream: .batch, index: 3)
        var f1 = first, f2 = first
        XCTAssertNotEqual(c.next(), f1.next())
        XCTAssertNotEqual(d.next(), f2.next())
        // xoshiro256** reference: state {1, 2, 3, 4} gives 11520, 0, 1509978240, 1215971899390074240.
        var x = DataRandom(testState: (1, 2, 3, 4))
        XCTAssertEqual((0..<4).map { _ in x.next() }, [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240])
        // Uniformity of below(n) and random().
        var r = DataRandom(seed: 11)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[r.below(7)] += 1 }
        for c in counts { XCTAssertEqual(Double(c), 10_000, accuracy: 400) }
        let mean = (0..<50_000).map { _ in r.random() }.reduce(0, +) / 50_000
        XCTAssertEqual(mean, 0.5, accuracy: 0.006)
        var perm = Array(0..<20)
        r.shuffle(&perm)
        XCTAssertEqual(perm.sorted(), Array(0..<20))
        XCTAssertEqual(Set(r.sample(Array(0..<20), 20)).count, 20)
        let choice = WeightedChoice(values: [1, 2, 3], weights: [1, 0, 3])
        var hits = [0, 0, 0, 0]
        for _ in 0..<8000 { hits[choice.draw(&r)] += 1 }
        XCTAssertEqual(hits[2], 0, "zero weight never drawn")
        XCTAssertEqual(Double(hits[1]) / 8000, 0.25, accuracy: 0.02)
    }

    func testPoissonWeightsAreTheOriginals() {
        let c = BlankInfillingConfig()
        let w = c.spanLengthWeights
        XCTAssertEqual(w.count, 39, "lengths 1 ..< 40")
        // scipy.stats.poisson.pmf(1, 3) = 3 e^-3, pmf(3, 3) = 4.5 e^-3.
        XCTAssertEqual(w[0], 3 * exp(-3), accuracy: 1e-15)
        XCTAssertEqual(w[2], 4.5 * exp(-3), accuracy: 1e-15)
        XCTAssertEqual(c.expectedSpanLength, 3 / (1 - exp(-3)), accuracy: 1e-9)
    }
}

/// The straightforward port of BlockDataset.__getitem__ (whole documents read, then cut), kept as the
/// naive twin of `PackedSampleSource.sample`, which reads only the window it needs.
private func referenceSample(_ store: InMemoryDocuments, seqLength: Int, seed: UInt64, index: Int) -> PackedSample {
    var rng = DataRandom(seed: seed, stream: .packedSample, index: UInt64(index))
    let lengths = store.documents.map(\.count)
    let total = lengths.reduce(0, +)
    var cumulative: [Int] = []
    var acc = 0
    for l in lengths { acc += l; cumulative.append(acc) }
    typealias Seq = (tokens: [Int32], mask: [Int32], flags: [UInt8])
    func draw() -> Seq {
        let x = rng.below(total)
        let d = cumulative.firstIndex { $0 > x }!
        let t = store.documents[d] + [testCommands.eos]
        return (t, [Int32](repeating: 1, count: t.count), store.flags[d] + [0])
    }
    func rightStrip(_ s: inout Seq, _ length: Int) {
        let n = s.tokens.count
        var strip = n - length
        guard strip > 0 else { return }
        while strip < n - 1 && s.flags[n - strip - 1] & SentenceEnd.windowBit == 0 { strip += 1 }
        if n - strip < length / 2 { strip = n - length }
        s.tokens.removeLast(strip); s.mask.removeLast(strip); s.flags.removeLast(strip)
    }
    let doc = draw()
    let toStrip = doc.tokens.count - seqLength + 1
    if toStrip > 0 {
        var start = rng.below(toStrip), moved = 0
        func ends(_ i: Int) -> Bool { doc.flags[i < 0 ? doc.flags.count + i : i] & SentenceEnd.windowBit != 0 }
        if rng.random() > 0 {
            if rng.random() < 0.5 {
                while moved < seqLength / 2 && start > 0 && !ends(start - 1) { start -= 1; moved += 1 }
            } else {
                while moved < seqLength / 2 && start < doc.tokens.count && !ends(start - 1) { start += 1; moved += 1 }
            }
        }
        var s: Seq = ([testCommands.enc] + doc.tokens[start...], [0] + doc.mask[start...], [0] + doc.flags[start...])
        rightStrip(&s, seqLength)
        return PackedSample(tokens: s.tokens, lossMask: s.mask, sentenceFlags: s.flags)
    }
    var s: Seq = ([testCommands.enc] + doc.tokens, [0] + doc.mask, [0] + doc.flags)
    while s.tokens.count < seqLength {
        let next = draw()
        var p: Seq = ([testCommands.enc] + next.tokens, [0] + next.mask, [0] + next.flags)
        let room = seqLength - s.tokens.count
        let isLast = p.tokens.count >= room
        rightStrip(&p, room)
        s.tokens += p.tokens; s.mask += p.mask; s.flags += p.flags
        if isLast { break }
    }
    return PackedSample(tokens: s.tokens, lossMask: s.mask, sentenceFlags: s.flags)
}

extension DataPackingTests {
    func testWindowedReadingEqualsTheNaiveTwin() throws {
        let store = syntheticDocuments(lengths: syntheticLengths(count: 40, range: 1...400), sentenceEvery: 9)
        for seqLength in [8, 33, 64] {
            let source = try PackedSampleSource(store: store, seqLength: seqLength, commands: testCommands, seed: 21)
            for k in 0..<300 {
                XCTAssertEqual(source.sample(k), referenceSample(store, seqLength: seqLength, seed: 21, index: k), "seq \(seqLength) sample \(k)")
            }
        }
    }
}
