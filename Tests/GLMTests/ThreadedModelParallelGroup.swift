import Foundation
import GLMEngine

/// M model-parallel "ranks" inside one test process: each rank runs on its own thread and the
/// collectives meet through shared memory (contributions combined in rank order, so every rank gets the
/// bit-identical result, as MPI gives). For unit tests of the model-parallel ops and model against the
/// unpartitioned ones, without mpirun.
final class ThreadedModelParallelGroup: @unchecked Sendable {   // state guarded by `condition`
    let size: Int
    private let condition = NSCondition()
    private var slots: [[Double]]
    private var result: [Double] = []
    private var arrived = 0
    private var generation = 0

    init(size: Int) {
        self.size = size
        slots = Array(repeating: [], count: size)
    }

    /// Runs `body(rank)` on `size` threads at once and returns the results in rank order (rethrows the
    /// first error).
    func run<T>(_ body: @escaping (Rank) throws -> T) throws -> [T] {
        let shared = Shared(body: body, results: [Result<T, Error>?](repeating: nil, count: size))
        let done = DispatchGroup()
        for r in 0..<size {
            done.enter()
            let thread = Thread { [self] in
                let out = Result { try shared.body(Rank(group: self, rank: r)) }
                shared.lock.lock(); shared.results[r] = out; shared.lock.unlock()
                done.leave()
            }
            thread.stackSize = 16 << 20
            thread.start()
        }
        done.wait()
        return try shared.results.map { try $0!.get() }
    }

    /// What the rank threads share (guarded by `lock`; the threads are joined before it is read).
    private final class Shared<T>: @unchecked Sendable {
        let body: (Rank) throws -> T
        var results: [Result<T, Error>?]
        let lock = NSLock()
        init(body: @escaping (Rank) throws -> T, results: [Result<T, Error>?]) { self.body = body; self.results = results }
    }

    /// One rank's view: the collectives of `ModelParallelCollectives`.
    final class Rank: ModelParallelCollectives {
        let group: ThreadedModelParallelGroup
        let rank: Int
        var size: Int { group.size }
        init(group: ThreadedModelParallelGroup, rank: Int) { self.group = group; self.rank = rank }

        func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
            let r = group.combine(rank, buffer.map(Double.init)) { a, b in Double(Float(a) + Float(b)) }
            for i in buffer.indices { buffer[i] = Float(r[i]) }
        }
        func allReduceMax(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
            let r = group.combine(rank, buffer.map(Double.init)) { Swift.max($0, $1) }
            for i in buffer.indices { buffer[i] = Float(r[i]) }
        }
        func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
            let r = group.combine(rank, Array(buffer)) { $0 + $1 }
            for i in buffer.indices { buffer[i] = r[i] }
        }
    }

    /// Every rank deposits `values`; the last to arrive combines them in rank order; all get the result.
    fileprivate func combine(_ rank: Int, _ values: [Double], _ sum: (Double, Double) -> Double) -> [Double] {
        condition.lock()
        defer { condition.unlock() }
        slots[rank] = values
        arrived += 1
        let mine = generation
        if arrived == size {
            var r = slots[0]
            for k in 1..<size { for i in r.indices { r[i] = sum(r[i], slots[k][i]) } }
            result = r
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        return result
    }
}
