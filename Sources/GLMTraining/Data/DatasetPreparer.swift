// `glm data prepare`: corpora → a memory-mappable token dataset (see TokenDatasetFormat.swift).
//
// Work is split into chunks (CorpusChunks.swift) tokenized by parallel workers; each finished chunk is
// written atomically under `<output>/.prepare/`, so an interrupted run resumes where it stopped. When all
// chunks are done they are concatenated in input order into the final files, `meta.json` last. The
// output depends only on the inputs, the tokenizer and the options: any number of workers and any
// number of interruptions give the same bytes.
import Foundation
import GLMSupport

public struct PrepareOptions: Sendable {
    public var inputs: [String]
    public var output: String
    /// Tokenizer preset name, recorded in the header.
    public var preset: String
    /// nil: by file extension (`CorpusFormat.guess`).
    public var format: CorpusFormat?
    public var workers: Int
    /// Target input bytes per chunk (the unit of parallelism and of resumption).
    public var chunkBytes: Int
    /// Apply the original's `punctuation_standardization` (its English corpora do; Chinese ones do not).
    public var standardizePunctuation: Bool
    /// Replace a finished dataset or an unfinished run with different inputs/options.
    public var force: Bool
    /// Skipped/repaired lines reported one by one per reason before only counting them.
    public var warningsPerReason: Int
    /// Testing: stop taking new chunks after this many were finished in this run (simulates an interruption).
    public var stopAfterChunks: Int?

    public init(inputs: [String], output: String, preset: String, format: CorpusFormat? = nil,
                workers: Int = ProcessInfo.processInfo.activeProcessorCount, chunkBytes: Int = 4 << 20,
                standardizePunctuation: Bool = true, force: Bool = false, warningsPerReason: Int = 20,
                stopAfterChunks: Int? = nil) {
        self.inputs = inputs; self.output = output; self.preset = preset; self.format = format
        self.workers = max(1, workers); self.chunkBytes = max(1, chunkBytes)
        self.standardizePunctuation = standardizePunctuation; self.force = force
        self.warningsPerReason = warningsPerReason; self.stopAfterChunks = stopAfterChunks
    }
}

public struct PrepareError: Error, CustomStringConvertible, LocalizedError {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
    public var errorDescription: String? { message }
}

public struct DatasetPreparer: Sendable {
    public let options: PrepareOptions
    /// Makes one tokenizer per worker (tokenizers may keep caches that are not thread-safe).
    public let makeTokenizer: @Sendable () throws -> any DataTokenizer
    public let reporter: any PrepareReporter

    public init(options: PrepareOptions, reporter: any PrepareReporter = ConsoleReporter(),
                makeTokenizer: @escaping @Sendable () throws -> any DataTokenizer) {
        self.options = options
        self.reporter = reporter
        self.makeTokenizer = makeTokenizer
    }

    private var workDirectory: String { path(".prepare") }
    private func path(_ name: String) -> String { (options.output as NSString).appendingPathComponent(name) }
    private func partPath(_ chunk: Int) -> String {
        (workDirectory as NSString).appendingPathComponent(String(format: "chunk-%07d.part", chunk))
    }

    public func run() throws -> PrepareSummary {
        let started = Date()
        guard !options.inputs.isEmpty else { throw PrepareError("no input files") }
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        for input in options.inputs {
            guard fm.fileExists(atPath: input, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw PrepareError("input \(input): no such file")
            }
        }
        let tokenizer = try makeTokenizer()
        let flagTable = SentenceEnd.table(for: tokenizer)
        let commands = tokenizer.commandTokenIDs
        var vocabulary = FNV1a64()
        for id in 0..<tokenizer.tokenCount { vocabulary.update(tokenizer.tokenString(forID: id) ?? "\u{0}<none>") }
        let formats = options.inputs.map { options.format ?? CorpusFormat.guess(path: $0) }
        let files = try options.inputs.map { try MappedFile(dataFile: $0) }

        // What identifies this job: a restart with the same fingerprint may reuse finished chunks.
        var job = FNV1a64()
        job.update("swiftglm-prepare-v\(TokenDatasetMeta.currentVersion)")
        job.update(options.preset); job.update(vocabulary.hex); job.update("\(tokenizer.tokenCount)")
        job.update("\(commands)"); job.update("\(options.standardizePunctuation)"); job.update("\(options.chunkBytes)")
        for (i, input) in options.inputs.enumerated() {
            let attributes = try fm.attributesOfItem(atPath: input)
            let mtime = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            job.update(URL(fileURLWithPath: input).standardizedFileURL.path)
            job.update("\(files[i].count) \(mtime) \(formats[i].rawValue)")
        }
        let fingerprint = job.hex

        try fm.createDirectory(atPath: options.output, withIntermediateDirectories: true)
        removeStaleTemporaries()
        if let summary = try checkExistingOutput(fingerprint: fingerprint) { return summary }
        try prepareWorkDirectory(fingerprint: fingerprint)

        var chunks: [CorpusChunk] = []
        for (i, file) in files.enumerated() {
            chunks += CorpusReader.plan(bytes: file.bytes, input: i, format: formats[i], chunkBytes: options.chunkBytes)
        }
        let todo = chunks.indices.filter { !fm.fileExists(atPath: partPath($0)) }
        let work = WorkState(todo: todo, stopAfter: options.stopAfterChunks)
        work.progress.chunksToDo = todo.count
        work.progress.bytesToDo = todo.reduce(0) { $0 + chunks[$1].byteRange.count }

        let planned = chunks
        let group = DispatchGroup()
        let workerCount = min(options.workers, max(1, todo.count))
        for _ in 0..<(todo.isEmpty ? 0 : workerCount) {
            DispatchQueue.global().async(group: group) {
                self.work(chunks: planned, files: files, formats: formats, flagTable: flagTable, state: work)
            }
        }
        while group.wait(timeout: .now() + 0.5) == .timedOut {
            reporter.progress(work.snapshot(elapsed: Date().timeIntervalSince(started)), final: false)
        }
        reporter.progress(work.snapshot(elapsed: Date().timeIntervalSince(started)), final: true)
        if let error = work.firstError { throw error }

        var summary = PrepareSummary(complete: false)
        summary.chunksTotal = chunks.count
        summary.chunksReused = chunks.count - todo.count
        summary.chunksDone = work.snapshot(elapsed: 0).chunksDone
        guard chunks.indices.allSatisfy({ fm.fileExists(atPath: partPath($0)) }) else {
            summary.seconds = Date().timeIntervalSince(started)
            return summary
        }
        try merge(chunks: chunks, tokenizer: tokenizer, vocabulary: vocabulary.hex, fingerprint: fingerprint,
                  formats: formats, summary: &summary)
        try? fm.removeItem(atPath: workDirectory)
        guard summary.documents > 0 else {
            // An empty dataset would only fail later, in training: remove it and say why here.
            for name in [TokenDatasetMeta.metaFile, TokenDatasetMeta.tokensFile, TokenDatasetMeta.documentsFile, TokenDatasetMeta.sentenceFlagsFile] {
                try? fm.removeItem(atPath: path(name))
            }
            throw PrepareError.noUsableDocument(inputs: options.inputs, summary: summary)
        }
        summary.complete = true
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// Temporary files a killed run left behind (`.<name>.tmp-<pid>-<random>`, see `AtomicFileWriter`).
    private func removeStaleTemporaries() {
        let fm = FileManager.default
        for dir in [options.output, workDirectory] {
            for name in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where name.contains(".tmp-") {
                try? fm.removeItem(atPath: (dir as NSString).appendingPathComponent(name))
            }
        }
    }

    /// A finished dataset in the output: the same job is a no-op; another one needs `force`.
    private func checkExistingOutput(fingerprint: String) throws -> PrepareSummary? {
        let metaPath = path(TokenDatasetMeta.metaFile)
        guard FileManager.default.fileExists(atPath: metaPath) else { return nil }
        if let meta = try? JSONDecoder().decode(TokenDatasetMeta.self, from: Data(contentsOf: URL(fileURLWithPath: metaPath))),
           meta.jobFingerprint == fingerprint, !options.force {
            var s = PrepareSummary(complete: true, alreadyPrepared: true)
            s.documents = meta.documentCount; s.tokens = meta.tokenCount; s.tokenDType = meta.tokenDType
            s.skippedByReason = meta.skippedByReason
            return s
        }
        guard options.force else {
            throw PrepareError("\(options.output) already holds a prepared dataset made from other inputs or options; pass --force to replace it")
        }
        for name in [TokenDatasetMeta.metaFile, TokenDatasetMeta.tokensFile, TokenDatasetMeta.documentsFile, TokenDatasetMeta.sentenceFlagsFile] {
            try? FileManager.default.removeItem(atPath: path(name))
        }
        return nil
    }

    /// `.prepare/job.json` names the job whose chunk results the folder holds.
    private func prepareWorkDirectory(fingerprint: String) throws {
        let fm = FileManager.default
        let jobPath = (workDirectory as NSString).appendingPathComponent("job.json")
        if fm.fileExists(atPath: workDirectory) {
            let recorded = (try? JSONDecoder().decode([String: String].self, from: Data(contentsOf: URL(fileURLWithPath: jobPath))))?["fingerprint"]
            if recorded == fingerprint { return }
            guard options.force else {
                throw PrepareError("\(workDirectory) holds an unfinished preparation of other inputs or options (inputs changed since?); pass --force to start over")
            }
            try fm.removeItem(atPath: workDirectory)
        }
        try fm.createDirectory(atPath: workDirectory, withIntermediateDirectories: true)
        try AtomicFileWriter.writeDataFile(try JSONEncoder().encode(["fingerprint": fingerprint]), to: jobPath)
    }

    /// One worker: takes chunks until none are left, tokenizes them, writes their results.
    private func work(chunks: [CorpusChunk], files: [MappedFile], formats: [CorpusFormat], flagTable: [UInt8], state: WorkState) {
        do {
            let tokenizer = try makeTokenizer()
            let limit = tokenizer.tokenCount
            while let index = state.next() {
                let chunk = chunks[index]
                var part = ChunkPart(input: chunk.input)
                let file = options.inputs[chunk.input]
                // Progress is reported every 256 documents; bytes are approximated by the text sizes
                // until the chunk is done (for the ETA).
                var documents = 0, tokens = 0, bytes = 0, bytesReported = 0
                func note(_ line: Int, _ reason: String, skipped: Bool, warn: Bool) {
                    part.notes.append(.init(line: line, reason: reason, skipped: skipped))
                    if warn { state.warn("\(file):\(line): \(reason)" + (skipped ? " — skipped" : ""), reason: reason,
                                         limit: options.warningsPerReason, reporter: reporter) }
                }
                CorpusReader.records(bytes: files[chunk.input].bytes, chunk: chunk, format: formats[chunk.input]) { record in
                    switch record {
                    case .skipped(let line, let reason, let warn):
                        note(line, reason, skipped: true, warn: warn)
                    case .repaired(let line, let reason):
                        note(line, reason, skipped: false, warn: true)
                    case .document(let line, let text):
                        let ids = tokenizer.encodeIDs(options.standardizePunctuation ? standardizePunctuation(text) : text)
                        if ids.isEmpty {
                            note(line, "no tokens after tokenization", skipped: true, warn: true)
                        } else if let bad = ids.first(where: { $0 < 0 || $0 >= limit }) {
                            note(line, "tokenizer produced id \(bad) outside 0..<\(limit)", skipped: true, warn: true)
                        } else {
                            part.documentLengths.append(UInt64(ids.count))
                            for id in ids {
                                part.tokens.append(UInt32(id))
                                part.flags.append(flagTable[id])
                            }
                            documents += 1; tokens += ids.count; bytes += text.utf8.count + 1
                            if documents % 256 == 0 {
                                state.add(documents: 256, tokens: tokens, bytes: bytes)
                                tokens = 0; bytesReported += bytes; bytes = 0
                            }
                        }
                    }
                }
                try part.write(to: partPath(index))
                state.add(documents: documents % 256, tokens: tokens, bytes: max(0, chunk.byteRange.count - bytesReported), chunks: 1)
            }
        } catch {
            state.fail(error)
        }
    }

    /// Concatenates the chunk results in order into the final files, then writes the header.
    private func merge(chunks: [CorpusChunk], tokenizer: any DataTokenizer, vocabulary: String, fingerprint: String,
                       formats: [CorpusFormat], summary: inout PrepareSummary) throws {
        let dtype = TokenDatasetMeta.dtype(forTokenCount: tokenizer.tokenCount)
        let tokensOut = try FingerprintedFileWriter(path: path(TokenDatasetMeta.tokensFile))
        let documentsOut = try FingerprintedFileWriter(path: path(TokenDatasetMeta.documentsFile))
        let flagsOut = try FingerprintedFileWriter(path: path(TokenDatasetMeta.sentenceFlagsFile))
        var sources = options.inputs.enumerated().map {
            TokenDatasetMeta.Source(path: $1, format: formats[$0].rawValue, documents: 0, tokens: 0, skippedLines: 0)
        }
        var offset: UInt64 = 0
        try documentsOut.write(littleEndian: [offset])
        for index in chunks.indices {
            let part = try ChunkPart.Mapped(path: partPath(index))
            guard part.input == chunks[index].input else {
                throw DataFileError(partPath(index), "belongs to input \(part.input), expected \(chunks[index].input); delete the .prepare folder")
            }
            var offsets: [UInt64] = []
            offsets.reserveCapacity(part.documentCount)
            for i in 0..<part.documentCount {
                offset += UInt64(part.documentLength(i))
                offsets.append(offset)
            }
            try documentsOut.write(littleEndian: offsets)
            let raw = part.file.bytes
            let tokenBytes = UnsafeRawBufferPointer(rebasing: raw[part.tokensOffset..<(part.tokensOffset + part.tokenCount * 4)])
            if dtype == "uint32" {
                try tokensOut.write(tokenBytes)   // already little-endian u32
            } else {
                var narrow = [UInt16](repeating: 0, count: part.tokenCount)
                for i in 0..<part.tokenCount {
                    narrow[i] = UInt16(UInt32(littleEndian: tokenBytes.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))).littleEndian
                }
                try narrow.withUnsafeBytes { try tokensOut.write($0) }
            }
            try flagsOut.write(UnsafeRawBufferPointer(rebasing: raw[part.flagsOffset..<(part.flagsOffset + part.tokenCount)]))
            let source = chunks[index].input
            sources[source].documents += part.documentCount
            sources[source].tokens += part.tokenCount
            for n in part.notes {
                if n.skipped {
                    summary.skippedByReason[n.reason, default: 0] += 1
                    sources[source].skippedLines += 1
                } else {
                    summary.repairedByReason[n.reason, default: 0] += 1
                }
                if summary.examples.count < 10 { summary.examples.append("\(options.inputs[source]):\(n.line): \(n.reason)") }
            }
            summary.documents += part.documentCount
            summary.tokens += part.tokenCount
        }
        try tokensOut.commit(); try documentsOut.commit(); try flagsOut.commit()
        summary.tokenDType = dtype
        let meta = TokenDatasetMeta(
            tokenDType: dtype, tokenCount: summary.tokens, documentCount: summary.documents,
            tokenizer: .init(preset: options.preset, tokenCount: tokenizer.tokenCount, commandTokens: tokenizer.commandTokenIDs,
                             vocabularyFingerprint: vocabulary),
            punctuationStandardized: options.standardizePunctuation, sources: sources,
            skippedByReason: summary.skippedByReason,
            checksums: [TokenDatasetMeta.tokensFile: tokensOut.checksum.hex, TokenDatasetMeta.documentsFile: documentsOut.checksum.hex,
                        TokenDatasetMeta.sentenceFlagsFile: flagsOut.checksum.hex],
            jobFingerprint: fingerprint)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFileWriter.writeDataFile(try encoder.encode(meta), to: path(TokenDatasetMeta.metaFile))
    }
}

/// Shared by the workers: the chunk queue, counters, the warning budget, the first error.
final class WorkState: @unchecked Sendable {
    // @unchecked: every field is accessed under `lock`.
    private let lock = NSLock()
    private var todo: [Int]
    private var position = 0
    private let stopAfter: Int?
    private var started = 0
    private(set) var firstError: Error?
    var progress = PrepareProgress()
    private var warningsByReason: [String: Int] = [:]

    init(todo: [Int], stopAfter: Int?) { self.todo = todo; self.stopAfter = stopAfter }

    func next() -> Int? {
        lock.lock(); defer { lock.unlock() }
        if firstError != nil || position >= todo.count { return nil }
        if let stopAfter, started >= stopAfter { return nil }
        started += 1
        position += 1
        return todo[position - 1]
    }

    func add(documents: Int, tokens: Int, bytes: Int = 0, chunks: Int = 0) {
        lock.lock(); defer { lock.unlock() }
        progress.documents += documents; progress.tokens += tokens
        progress.bytesDone += bytes; progress.chunksDone += chunks
    }

    func snapshot(elapsed: Double) -> PrepareProgress {
        lock.lock(); defer { lock.unlock() }
        var p = progress
        p.elapsed = elapsed
        return p
    }

    func fail(_ error: Error) {
        lock.lock(); defer { lock.unlock() }
        if firstError == nil { firstError = error }
    }

    /// Reports the first `limit` warnings of each reason, then says further ones are only counted.
    func warn(_ message: String, reason: String, limit: Int, reporter: any PrepareReporter) {
        lock.lock()
        let n = warningsByReason[reason, default: 0] + 1
        warningsByReason[reason] = n
        lock.unlock()
        if n <= limit { reporter.warning(message) }
        if n == limit + 1 { reporter.warning("further lines with \"\(reason)\" are not listed; the summary counts them") }
    }
}
