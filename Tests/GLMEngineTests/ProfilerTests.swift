import Foundation
import XCTest
@testable import GLMEngine

/// The profiler's bookkeeping: every op's forward and backward land under its name and category with the
/// right work, nested intervals are counted once (exclusive times), and the per-category table adds up to
/// the wall time exactly (overhead = wall − Σ measured).
final class ProfilerTests: XCTestCase {
    /// A tiny GLM-like step: embedding, LayerNorm, QKV linear, attention, dense, add, GELU, logits, loss.
    func runStep(_ tape: Tape) throws -> [Parameter] {
        let b = 2, s = 4, h = 8, heads = 2, v = 11
        var seed: UInt64 = 7
        func p(_ name: String, _ shape: [Int]) -> Parameter {
            seed += 1
            return Parameter(name: name, value: randn(shape, seed: seed, std: 0.3))
        }
        let emb = p("emb", [v, h]), lnW = p("ln.w", [h]), lnB = p("ln.b", [h]), qkvW = p("qkv.w", [3 * h, h])
        let qkvB = p("qkv.b", [3 * h]), dW = p("dense.w", [h, h]), upW = p("up.w", [4 * h, h])
        let ids = try Tensor(shape: [b, s], ints: [1, 2, 3, 4, 5, 6, 7, 8])
        let targets = try Tensor(shape: [b, s], ints: [2, 3, 4, 5, 6, 7, 8, 9])
        let mask = try AttentionMask.glm(seps: [2], batch: b, queryLength: s)
        let x = try tape.embedding(ids, table: emb)
        let a = try tape.layerNorm(x, weight: lnW, bias: lnB)
        let ctx = try tape.attention(qkv: try tape.linear(a, weight: qkvW, bias: qkvB), heads: heads, mask: mask)
        let y = try tape.add(x, try tape.linear(ctx, weight: dW))
        let up = try tape.gelu(try tape.linear(y, weight: upW))
        let logits = try tape.linear(try tape.matmul(try tape.reshape(up, [b * s, 4 * h]), upW), weight: emb)
        let ce = try tape.crossEntropy(logits, targets: targets)
        try tape.backward(ce.loss)
        return [emb, lnW, lnB, qkvW, qkvB, dW, upW]
    }

    func testEveryOpIsFiledUnderItsCategoryAndPhase() throws {
        let profiler = Profiler()
        let tape = Tape()
        tape.profiler = profiler
        _ = try runStep(tape)
        var seen: [String: Set<ProfilePhase>] = [:]
        for e in profiler.entries.values {
            seen[e.key.name, default: []].insert(e.key.phase)
            XCTAssertEqual(e.category, ProfileCategory.of(e.key.name), e.key.name)
        }
        let expected: [String: ProfileCategory] = [
            "embedding": .elementwise, "layerNorm": .elementwise, "linear": .gemm, "attention": .attention,
            "add": .elementwise, "gelu": .elementwise, "matmul": .gemm, "crossEntropy": .loss,
        ]
        for (name, category) in expected {
            XCTAssertEqual(seen[name], [.forward, .backward], "\(name) must have a forward and a backward entry")
            XCTAssertEqual(ProfileCategory.of(name), category, name)
        }
        XCTAssertEqual(Set(seen.keys), Set(expected.keys), "no other names")
        let linearForwardCalls = profiler.entries.values.filter { $0.key.name == "linear" && $0.key.phase == .forward }
            .reduce(0) { $0 + $1.calls }
        XCTAssertEqual(linearForwardCalls, 4)
    }

    func testWorkOfLinearAndAttentionIsTheProductFLOPs() throws {
        let profiler = Profiler()
        let tape = Tape()
        tape.profiler = profiler
        let x = Variable(randn([3, 5], seed: 1), requiresGrad: true)
        let w = Parameter(name: "w", value: randn([7, 5], seed: 2))
        let y = try tape.linear(x, weight: w)
        try tape.backward(try tape.crossEntropy(y, targets: try Tensor(shape: [3], ints: [0, 1, 2])).loss)
        let attentionTape = Tape()
        attentionTape.profiler = profiler
        let qkv = Variable(randn([2, 6, 12], seed: 3), requiresGrad: true)
        let ctx = try attentionTape.attention(qkv: qkv, heads: 2, mask: try AttentionMask.glm(seps: [3], batch: 2, queryLength: 6))
        let m = Variable(randn([4, 3], seed: 4), requiresGrad: true)
        let logits = try attentionTape.matmul(try attentionTape.reshape(ctx, [12, 4]), m)
        let loss = try attentionTape.crossEntropy(logits, targets: try Tensor(shape: [12], ints: Array(repeating: 1, count: 12)))
        try attentionTape.backward(loss.loss)
        func work(_ name: String, _ phase: ProfilePhase) -> OpWork {
            profiler.entries.values.filter { $0.key.name == name && $0.key.phase == phase }
                .reduce(OpWork()) { OpWork(flops: $0.flops + $1.work.flops, bytes: $0.bytes + $1.work.bytes) }
        }
        XCTAssertEqual(work("linear", .forward).flops, 2 * 3 * 7 * 5)
        XCTAssertEqual(work("linear", .backward).flops, 2 * 2 * 3 * 7 * 5, "dx and dW")
        // b 2, heads 2, q = k = 6, d = 2: 2·b·heads·q·k·d per product; two forward, four backward.
        let product = 2.0 * 2 * 2 * 6 * 6 * 2
        XCTAssertEqual(work("attention", .forward).flops, 2 * product)
        XCTAssertEqual(work("attention", .backward).flops, 4 * product)
        XCTAssertEqual(work("matmul", .forward).flops, 2 * 12 * 3 * 4)
        XCTAssertEqual(work("crossEntropy", .forward).bytes, (3 * 7 + 12 * 3) * 4, "one pass over the logits")
        XCTAssertEqual(work("crossEntropy", .backward).bytes, 2 * (3 * 7 + 12 * 3) * 4)
    }

    func testCategoriesAddUpToTheWallTime() throws {
        let profiler = Profiler()
        let start = Profiler.now()
        var steps = 0
        for _ in 0..<3 {
            let tape = Tape()
            tape.profiler = profiler
            let params = try runStep(tape)
            profiler.measure("clipGradNorm") { _ = clipGradNorm(params, maxNorm: 1) }
            steps += 1
        }
        let wall = Profiler.now() - start
        let s = profiler.summary(wallNanoseconds: wall, steps: steps)
        XCTAssertLessThanOrEqual(profiler.measuredNanoseconds, wall, "exclusive times are disjoint parts of the wall time")
        let total = s.categories.reduce(0) { $0 + $1.msPerStep }
        XCTAssertEqual(total, s.wallMsPerStep, accuracy: 1e-9 * s.wallMsPerStep)
        XCTAssertEqual(s.categories.reduce(0) { $0 + $1.share }, 1, accuracy: 1e-12)
        XCTAssertEqual(s.categories.map(\.category), ProfileCategory.allCases)
        for r in s.categories { XCTAssertGreaterThanOrEqual(r.msPerStep, 0, r.label) }
        XCTAssertGreaterThan(s.categories.first { $0.category == .optimizer }!.msPerStep, 0)
        let perStepForward = s.phaseSeconds(.forward) + s.phaseSeconds(.backward) + s.phaseSeconds(.step)
        XCTAssertEqual(perStepForward, s.measuredSeconds, accuracy: 1e-12)
        XCTAssertEqual(s.topOps(3).count, 3)
        XCTAssertGreaterThanOrEqual(s.topOps(3)[0].seconds, s.topOps(3)[2].seconds)
    }

    /// An outer interval keeps only its own time; time of inner intervals is counted once, under them.
    func testNestedIntervalsAreExclusive() {
        let profiler = Profiler()
        let start = Profiler.now()
        profiler.measure("outer", category: .overhead) {
            usleep(20_000)
            _ = profiler.measure("inner", category: .gemm) { usleep(30_000) }
        }
        let wall = Double(Profiler.now() - start) / 1e9
        let e = Dictionary(uniqueKeysWithValues: profiler.entries.values.map { ($0.key.name, $0.seconds) })
        XCTAssertGreaterThanOrEqual(e["inner"]!, 0.030)
        XCTAssertGreaterThanOrEqual(e["outer"]!, 0.020)
        XCTAssertLessThanOrEqual(e["outer"]! + e["inner"]!, wall)
        XCTAssertLessThan(e["outer"]!, wall - 0.030 + 1e-9, "the inner 30 ms must not count for the outer interval")
    }

    /// Activation recomputation: the layer's ops are profiled (forward twice, backward once) and the
    /// wrapper itself only keeps its glue time, so nothing is double-counted.
    func testRecomputeIsNotCountedTwice() throws {
        let profiler = Profiler()
        let tape = Tape()
        tape.profiler = profiler
        let w = Parameter(name: "w", value: randn([6, 6], seed: 4))
        let x = Variable(randn([4, 6], seed: 5), requiresGrad: true)
        let start = Profiler.now()
        let y = try tape.recompute("layer 0", inputs: [x], parameters: [w]) { t, v in
            try t.gelu(try t.linear(v[0], weight: w))
        }
        let loss = try tape.crossEntropy(y, targets: try Tensor(shape: [4], ints: [0, 1, 2, 3]))
        try tape.backward(loss.loss)
        let wall = Profiler.now() - start
        let calls = { (name: String, phase: ProfilePhase) in
            profiler.entries.values.filter { $0.key.name == name && $0.key.phase == phase }.reduce(0) { $0 + $1.calls }
        }
        XCTAssertEqual(calls("linear", .forward), 2, "forward and its recomputation")
        XCTAssertEqual(calls("linear", .backward), 1)
        XCTAssertEqual(calls("layer 0", .forward), 1)
        XCTAssertEqual(calls("layer 0", .backward), 1)
        XCTAssertEqual(ProfileCategory.of("layer 0"), .overhead)
        XCTAssertLessThanOrEqual(profiler.measuredNanoseconds, wall)
    }

    /// An interval left open (an op that threw) is dropped when an enclosing one closes.
    func testAbandonedIntervalsDoNotCorruptTheStack() {
        let profiler = Profiler()
        let outer = profiler.start()
        _ = profiler.start()  // never finished
        profiler.finish(outer, name: "outer", phase: .step, category: .overhead)
        profiler.measure("after", category: .optimizer) {}
        XCTAssertEqual(Set(profiler.entries.keys.map(\.name)), ["outer", "after"])
    }

    func testATapeWithoutProfilerRecordsNothing() throws {
        let profiler = Profiler()
        let profiled = Tape()
        profiled.profiler = profiler
        _ = try runStep(Tape())
        XCTAssertTrue(profiler.entries.isEmpty)
        _ = try runStep(profiled)
        XCTAssertFalse(profiler.entries.isEmpty)
    }

    /// Regression: in -O builds, Swift 6.3 let `Tensor.copy(from:)` return a phantom error when it ended
    /// in a memmove tail call (scalar tensors: the loss seed of `backward(loss)`). Only -O builds can fail.
    func testCopyIntoAScalarDoesNotThrow() throws {
        let a = Tensor(scalar: 3), b = Tensor(scalar: 0)
        XCTAssertNoThrow(try b.copy(from: a))
        XCTAssertEqual(b.scalarValue, 3)
        let tape = Tape()
        let x = Variable(Tensor(scalar: 2), requiresGrad: true)
        let y = try tape.scale(x, 3)
        XCTAssertNoThrow(try tape.backward(y))
        XCTAssertEqual(x.grad?.scalarValue, 3)
    }
}
