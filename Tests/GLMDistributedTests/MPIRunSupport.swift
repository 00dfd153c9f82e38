import Foundation
import GLMCheckpoint
import GLMTestSupport
import XCTest

/// Runs the built `glm` tool alone and under `mpirun`, for the multi-process tests.
enum MPIRun {
    /// The `glm` executable next to the test bundle (SwiftPM builds it with the tests).
    static func glm() throws -> String {
        let dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [dir, dir.deletingLastPathComponent()] {
            let p = candidate.appendingPathComponent("glm").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        // `swift test` builds every product, the tool included: a missing tool is a failure, not a skip.
        throw Missing(what: "the glm executable next to the test bundle (\(dir.path))")
    }

    /// `mpirun` on PATH, or a skip naming what to install.
    static func mpirun() throws -> String {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":") {
            let p = "\(dir)/mpirun"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw XCTSkip("mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev): multi-process tests skipped")
    }

    struct Missing: Error, CustomStringConvertible {
        let what: String
        var description: String { "not found: \(what)" }
    }

    struct Result { let status: Int32; let output: String; let seconds: Double }

    /// Runs `arguments[0]` with the rest, in `directory`, killing it after `timeout` seconds.
    @discardableResult
    static func run(_ arguments: [String], in directory: String, timeout: Double = 300, environment extra: [String: String] = [:],
                    started: ((Process) -> Void)? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: arguments[0])
        p.arguments = Array(arguments.dropFirst())
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment
        // mpirun refuses root unless told; CI containers run as root.
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"; env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        // Containers often forbid the cross-process memory copy of the shared-memory transport (ptrace
        // restrictions); copying through the shared segment works everywhere.
        env["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
        for (k, v) in extra { env[k] = v }
        p.environment = env
        let out = directory + "/.out-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: out, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        p.standardOutput = handle; p.standardError = handle
        let begin = Date()
        try p.run()
        started?(p)
        while p.isRunning && Date().timeIntervalSince(begin) < timeout { usleep(20_000) }
        if p.isRunning { p.terminate(); usleep(500_000); if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        p.waitUntilExit()
        try handle.close()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: out)
        return Result(status: p.terminationStatus, output: text, seconds: Date().timeIntervalSince(begin))
    }

    /// A small English corpus prepared with the glm-base tokenizer, in `dir/data`.
    static func preparedData(in dir: String) throws -> String {
        var g = UInt64(7)
        func next() -> Int { g = g &* 6364136223846793005 &+ 1442695040888963407; return Int(g >> 33) }
        let words = "the lord said unto moses and aaron speak to the children of israel that they bring me an offering of every man whose heart maketh him willing".split(separator: " ")
        let docs = (0..<60).map { _ in
            (0..<(2 + next() % 4)).map { _ in (0..<(6 + next() % 9)).map { _ in String(words[next() % words.count]) }.joined(separator: " ") + "." }
                .joined(separator: " ")
        }
        try (docs.joined(separator: "\n\n") + "\n").write(toFile: dir + "/corpus.txt", atomically: true, encoding: .utf8)
        let r = try run([try glm(), "data", "prepare", "--preset", "glm-base", "--input", "corpus.txt", "--output", "data", "--workers", "1"], in: dir)
        guard r.status == 0 else { throw XCTSkip("glm data prepare failed: \(r.output)") }
        return dir + "/data"
    }

    /// The `--log` step lines: (step, loss).
    static func losses(_ log: String) throws -> [(step: Int, loss: Double)] {
        try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = o["step"] as? Int, let loss = o["loss"] as? Double else { return nil }
            return (step, loss)
        }
    }

    /// Every float of an exported model.safetensors, by tensor name.
    static func weights(_ folder: String) throws -> [String: [Float]] {
        let f = try SafetensorsFile(path: folder + "/model.safetensors")
        var out: [String: [Float]] = [:]
        for (name, t) in try f.tensors() { out[name] = t.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
        return out
    }

    /// Largest |a − b| / max(|b|, 1e-3) over matching tensors (fails on different names or shapes).
    static func largestRelativeDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> Double {
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        var worst = 0.0
        for (name, x) in a {
            guard let y = b[name], y.count == x.count else { XCTFail("\(name) differs in shape"); continue }
            for i in x.indices { worst = max(worst, Double(abs(x[i] - y[i])) / max(Double(abs(y[i])), 1e-3)) }
        }
        return worst
    }
}
