import GLMCheckpoint
import Foundation

/// The ways a GLM model can lie on disk.
public enum ModelLayout: String, Sendable {
    /// `model.safetensors` (+ `config.json`).
    case safetensors
    /// `model.safetensors.index.json` + `model-0000i-of-0000n.safetensors`.
    case shardedSafetensors
    /// Hugging Face `pytorch_model.bin` (keys with or without `glm.`).
    case torchBin
    /// `pytorch_model.bin.index.json` + shards.
    case shardedTorchBin
    /// The original training folder: tracker file → `<tag>/mp_rank_XX_model_states.pt`, weights under
    /// `module`, any number of model-parallel ranks (merged on load).
    case trainingCheckpoint
}

/// Options for finding the config of a checkpoint that has no config.json (and for completing one
/// that lacks the tokenizer).
public struct ModelLoadOptions: Sendable {
    /// A published model's preset: gives the head count and the tokenizer.
    public var preset: String?
    public var heads: Int?
    public var tokenizer: String?

    public init(preset: String? = nil, heads: Int? = nil, tokenizer: String? = nil) {
        self.preset = preset
        self.heads = heads
        self.tokenizer = tokenizer
    }
}

/// A model read from disk: its config, its tensors under the original names, and where each came from.
public struct LoadedModel: Sendable {
    public var config: GLMConfig
    /// name → tensor, in the dtype of the file (views of memory-mapped files where possible; convert
    /// with `TensorData.floats()` / `copyFloats(into:)` when building the model).
    public var weights: StateDict
    /// name → "file" or "file (merged from N model-parallel ranks)".
    public var provenance: [String: String]
    public var layout: ModelLayout
    /// The path that was resolved (folder or file) and the files that were read.
    public var path: String
    public var files: [String]
    /// Where the config came from: a config.json path, or "inferred from tensor shapes + ...".
    public var configSource: String
    /// The training iteration stored in an original checkpoint, when there is one.
    public var iteration: Int?
    /// Number of model-parallel ranks that were merged (1 for all other layouts).
    public var modelParallelSize: Int

    /// Parameter names in the model's order.
    public var names: [String] { config.parameterSpecs.map(\.name) }
    public var parameterCount: Int { weights.values.reduce(0) { $0 + $1.elementCount } }
    /// The distinct dtypes of the weights with their tensor counts.
    public var dtypeCounts: [StoredDType: Int] { weights.values.reduce(into: [:]) { $0[$1.dtype, default: 0] += 1 } }

    /// Tensors in the model's order, for writers.
    public var orderedWeights: [(String, TensorData)] { names.compactMap { n in weights[n].map { (n, $0) } } }
}

/// Finds and reads GLM checkpoints in every layout (see `ModelLayout`).
public enum ModelFiles {
    public static let trackerFiles = ["latest_checkpointed_iteration.txt", "latest"]

    /// What `locate` found: the layout and the files to read.
    public struct Located: Sendable {
        public var layout: ModelLayout
        public var path: String
        /// For training checkpoints: rank files in rank order; for shards: shard files; else one file.
        public var files: [String]
        /// config.json beside the weights (or in the training folder's root), if any.
        public var configPath: String?
        public var tag: String?
    }

    static func exists(_ p: String) -> Bool { FileManager.default.fileExists(atPath: p) }
    static func isDirectory(_ p: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: p, isDirectory: &d) && d.boolValue
    }

    /// Decides the layout of `path` (a folder or a weights file) without reading any tensor.
    public static func locate(_ path: String) throws -> Located {
        let p = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        guard exists(p) else { throw CheckpointError(.io, file: p, "no such file or folder") }
        if !isDirectory(p) {
            let dir = (p as NSString).deletingLastPathComponent
            let cfg = dir.isEmpty ? "config.json" : dir + "/config.json"
            let configPath = exists(cfg) ? cfg : nil
            let name = (p as NSString).lastPathComponent
            if name.hasSuffix(".safetensors") {
                return Located(layout: .safetensors, path: p, files: [p], configPath: configPath)
            }
            if name.hasSuffix(".index.json") {
                let index = try WeightIndex(path: p)
                let files = index.files.map { (dir.isEmpty ? "" : dir + "/") + $0 }
                let layout: ModelLayout = name.contains("safetensors") ? .shardedSafetensors : .shardedTorchBin
                return Located(layout: layout, path: p, files: files, configPath: configPath)
            }
            if rankNumber(name) != nil {
                // One rank of a model-parallel checkpoint: the whole tag folder is needed.
                var l = try locateRanks(folder: dir.isEmpty ? "." : dir, tag: nil)
                l.path = p
                return l
            }
            return Located(layout: .torchBin, path: p, files: [p], configPath: configPath)
        }
        let cfg = exists(p + "/config.json") ? p + "/config.json" : nil
        if exists(p + "/model.safetensors.index.json") {
            let index = try WeightIndex(path: p + "/model.safetensors.index.json")
            return Located(layout: .shardedSafetensors, path: p, files: index.files.map { p + "/" + $0 }, configPath: cfg)
        }
        if exists(p + "/model.safetensors") {
            return Located(layout: .safetensors, path: p, files: [p + "/model.safetensors"], configPath: cfg)
        }
        if exists(p + "/pytorch_model.bin.index.json") {
            let index = try WeightIndex(path: p + "/pytorch_model.bin.index.json")
            return Located(layout: .shardedTorchBin, path: p, files: index.files.map { p + "/" + $0 }, configPath: cfg)
        }
        if exists(p + "/pytorch_model.bin") {
            return Located(layout: .torchBin, path: p, files: [p + "/pytorch_model.bin"], configPath: cfg)
        }
        for tracker in trackerFiles where exists(p + "/" + tracker) {
            let raw = try String(contentsOfFile: p + "/" + tracker, encoding: .utf8)
            let tag = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !tag.isEmpty, !tag.contains("/"), tag != "..", tag != "." else {
                throw CheckpointError(.malformed, file: p + "/" + tracker, "tracker file holds '\(raw)', not an iteration or tag")
            }
            var l = try locateRanks(folder: p + "/" + tag, tag: tag)
            l.path = p
            l.configPath = cfg
            return l
        }
        if (try? FileManager.default.contentsOfDirectory(atPath: p))?.contains(where: { rankNumber($0) != nil }) == true {
            // The tag folder itself (utils.py also accepts that when there is no tracker file).
            var l = try locateRanks(folder: p, tag: (p as NSString).lastPathComponent)
            let parentCfg = (p as NSString).deletingLastPathComponent + "/config.json"
            l.configPath = cfg ?? (exists(parentCfg) ? parentCfg : nil)
            return l
        }
        throw CheckpointError(.missingKey, file: p,
                              "no model found: expected model.safetensors(.index.json), pytorch_model.bin(.index.json), a tracker file (latest_checkpointed_iteration.txt or latest) or mp_rank_XX_model_states.pt files")
    }

    /// `mp_rank_07_model_states.pt` → 7.
    static func rankNumber(_ name: String) -> Int? {
        guard name.hasPrefix("mp_rank_"), name.hasSuffix("_model_states.pt") else { return nil }
        let digits = name.dropFirst("mp_rank_".count).dropLast("_model_states.pt".count)
        return digits.isEmpty ? nil : Int(digits)
    }

    static func locateRanks(folder: String, tag: String?) throws -> Located {
        guard isDirectory(folder) else {
            throw CheckpointError(.missingKey, file: folder, "the tracker file points to tag '\(tag ?? "?")' but this folder does not exist")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let ranks = names.compactMap { n in rankNumber(n).map { ($0, n) } }.sorted { $0.0 < $1.0 }
        guard !ranks.isEmpty else {
            throw CheckpointError(.missingKey, file: folder, "no mp_rank_XX_model_states.pt files in the checkpoint folder")
        }
        for (i, r) in ranks.enumerated() where r.0 != i {
            throw CheckpointError(.missingKey, file: folder,
                                  "model-parallel ranks are not 0..\(ranks.count - 1): found \(ranks.map { $0.1 }.joined(separator: ", "))")
        }
        return Located(layout: .trainingCheckpoint, path: folder, files: ranks.map { folder + "/" + $0.1 }, configPath: nil, tag: tag)
    }

    /// Reads the tensors of a located model (no config logic): name → (tensor, provenance), iteration, MP size.
    /// Model-parallel ranks are merged here (one heap copy per merged tensor); everything else stays a
    /// view of its mapped file. For one tensor at a time, use `lazyTensors`.
    public static func readTensors(_ located: Located) throws -> (tensors: [(String, TensorData)], provenance: [String: String], iteration: Int?, modelParallelSize: Int) {
        let (lazy, iteration, mp) = try lazyTensors(located)
        var out: [(String, TensorData)] = []
        var prov: [String: String] = [:]
        for t in lazy {
            let data = try t.load()
            if !data.isMapped { t.releasePages() } // a merged (or dequantised) copy: the source pages can go
            out.append((t.name, data))
            prov[t.name] = t.provenance
        }
        return (out, prov, iteration, mp)
    }

    /// The tensors of a located model with their names, dtypes and shapes known now and their bytes
    /// produced on demand (`LazyTensor.load`): a model-parallel tensor is merged from its ranks only when
    /// loaded, an int8 matrix dequantised only when loaded. Streaming converters hold one at a time.
    public static func lazyTensors(_ located: Located) throws -> (tensors: [LazyTensor], iteration: Int?, modelParallelSize: Int) {
        var out: [LazyTensor] = []
        var seen = Set<String>()
        func add(_ t: LazyTensor) throws {
            guard seen.insert(t.name).inserted else {
                throw CheckpointError(.malformed, file: t.provenance, "tensor '\(t.name)' appears twice (with and without a prefix, or in two shards)")
            }
            out.append(t)
        }
        func view(_ name: String, _ t: TensorData, _ from: String) -> LazyTensor {
            LazyTensor(name: normalizedName(name), dtype: t.dtype, shape: t.shape, provenance: from,
                       produce: { t }, release: { t.releaseMappedPages() })
        }
        switch located.layout {
        case .safetensors, .shardedSafetensors:
            var wanted: [String: Set<String>]? = nil
            if located.layout == .shardedSafetensors, let idx = try? indexFor(located) {
                wanted = Dictionary(grouping: idx.weightMap, by: { $0.1 }).mapValues { Set($0.map(\.0)) }
            }
            for f in located.files {
                let st = try SafetensorsFile(path: f)
                let names = st.names
                if let w = wanted?[(f as NSString).lastPathComponent], w != Set(names) {
                    throw CheckpointError(.malformed, file: f, "shard holds tensors \(GLMConfig.list(names.filter { !w.contains($0) })) that the index does not assign to it, or lacks \(GLMConfig.list(w.filter { !names.contains($0) }.sorted()))")
                }
                let int8 = Int8Weights.isInt8File(st)
                for n in names {
                    let info = st.infos[n]!
                    if int8 && n.hasSuffix(Int8Weights.scaleSuffix),
                       st.infos[String(n.dropLast(Int8Weights.scaleSuffix.count))]?.dtype == .int8 { continue }
                    if int8 && info.dtype == .int8 {
                        let (q, scale) = try Int8Weights.quantizedPair(st, n)
                        try add(LazyTensor(name: normalizedName(n), dtype: .float32, shape: q.shape, provenance: f,
                                           produce: { Int8Weights.dequantized(q: q, scale: scale) },
                                           release: { q.releaseMappedPages() }))
                        continue
                    }
                    try add(view(n, try st.tensor(n), f))
                }
            }
            return (out, nil, 1)
        case .torchBin, .shardedTorchBin:
            var iteration: Int?
            for f in located.files {
                let tf = try TorchFile(path: f)
                let (sd, it) = try stateDictValue(tf)
                iteration = iteration ?? it
                for (n, t) in try tf.stateDict(sd.value, context: sd.context) { try add(view(n, t, f)) }
            }
            return (out, iteration, 1)
        case .trainingCheckpoint:
            var ranks: [[(String, TensorData)]] = []
            var iteration: Int?
            for f in located.files {
                let tf = try TorchFile(path: f)
                let (sd, it) = try stateDictValue(tf)
                iteration = iteration ?? it
                ranks.append(try tf.stateDict(sd.value, context: sd.context))
            }
            if ranks.count == 1 {
                for (n, t) in ranks[0] { try add(view(n, t, located.files[0])) }
                return (out, iteration, 1)
            }
            let names0 = ranks[0].map(\.0)
            let maps = ranks.map { Dictionary($0, uniquingKeysWith: { a, _ in a }) }
            for (r, m) in maps.enumerated() where Set(m.keys) != Set(names0) {
                let extra = m.keys.filter { maps[0][$0] == nil }.sorted()
                let lacking = names0.filter { m[$0] == nil }
                throw CheckpointError(.malformed, file: located.files[r],
                                      "rank \(r) has different tensors than rank 0: extra \(GLMConfig.list(extra)), missing \(GLMConfig.list(lacking))")
            }
            let files = located.files
            let from = "\(located.path) (merged from \(ranks.count) model-parallel ranks)"
            for n in names0 {
                let parts = maps.map { $0[n]! }
                let shape = try ModelParallel.mergedShape(parts, name: n, files: files)
                try add(LazyTensor(name: normalizedName(n), dtype: parts[0].dtype, shape: shape, provenance: from,
                                   produce: { try ModelParallel.merge(parts, name: n, files: files) },
                                   release: { parts.forEach { $0.releaseMappedPages() } }))
            }
            return (out, iteration, ranks.count)
        }
    }

    static func indexFor(_ l: Located) throws -> WeightIndex {
        let p = l.path.hasSuffix(".json") ? l.path : l.path + "/model.safetensors.index.json"
        return try WeightIndex(path: p)
    }

    /// HF GLM checkpoints (GLMForConditionalGeneration & co.) prefix the model's keys with `glm.`.
    public static func normalizedName(_ name: String) -> String {
        name.hasPrefix("glm.") ? String(name.dropFirst(4)) : name
    }

    /// The state dict inside a torch file: `sd['module']` for training checkpoints (DeepSpeed's other
    /// keys are ignored), else the top-level dict itself (pytorch_model.bin).
    static func stateDictValue(_ f: TorchFile) throws -> (value: (value: PickleValue, context: String), iteration: Int?) {
        let iteration = f.root["iteration"]?.intValue.flatMap { Int(exactly: $0) }
        if let m = f.root["module"] {
            if case .none = m {
                throw CheckpointError(.missingKey, file: f.path, "'module' is None: this file holds no weights (a ZeRO or optimizer-only file?)")
            }
            return ((m, "module"), iteration)
        }
        guard case .dict(let items) = f.root else {
            throw CheckpointError(.malformed, file: f.path, "top-level object is a \(f.root.kindName), not a dict")
        }
        if items.contains(where: { if case .tensor = $0.value { return true }; return false }) {
            return ((f.root, "state dict"), iteration)
        }
        throw CheckpointError(.missingKey, file: f.path,
                              "no 'module' entry and no tensors at the top level (keys: \(GLMConfig.list(f.root.stringKeys ?? [])))")
    }

    /// Loads a model from any layout: finds the files, reads the tensors (memory-mapped), merges
    /// model-parallel ranks, determines the config (config.json, or shapes + preset/heads/tokenizer),
    /// and validates names and shapes.
    public static func load(_ path: String, options: ModelLoadOptions = ModelLoadOptions()) throws -> LoadedModel {
        let located = try locate(path)
        let (tensors, provenance, iteration, mp) = try readTensors(located)
        let weights = Dictionary(tensors, uniquingKeysWith: { a, _ in a })
        var (config, configSource) = try resolveConfig(located: located, shapes: weights.mapValues { TensorShape(dtype: $0.dtype, shape: $0.shape) }, options: options)
        if config.torchDtype == nil { config.torchDtype = ModelWriter.torchDtypeName(ModelWriter.dominantDType(weights)) }
        try config.validate(weights: weights, provenance: provenance, source: located.path)
        return LoadedModel(config: config, weights: weights, provenance: provenance, layout: located.layout,
                           path: located.path, files: located.files, configSource: configSource,
                           iteration: iteration, modelParallelSize: mp)
    }

    /// config.json when present (completed/checked against the options), else inferred from shapes.
    public static func resolveConfig(located: Located, weights: StateDict, options: ModelLoadOptions) throws -> (GLMConfig, String) {
        try resolveConfig(located: located, shapes: weights.mapValues { TensorShape(dtype: $0.dtype, shape: $0.shape) }, options: options)
    }

    /// `resolveConfig` from dtypes and shapes alone.
    public static func resolveConfig(located: Located, shapes weights: [String: TensorShape], options: ModelLoadOptions) throws -> (GLMConfig, String) {
        var preset: GLMPreset?
        if let name = options.preset {
            guard let p = GLMPreset.named(name) else {
                throw CheckpointError(.config, file: located.path, "unknown preset '\(name)'; known presets: \(GLMPreset.names.joined(separator: ", "))")
            }
            preset = p
        }
        if let cfgPath = located.configPath {
            var c = try GLMConfig.load(path: cfgPath)
            if let h = options.heads, h != c.numAttentionHeads {
                throw CheckpointError(.config, file: cfgPath, "config.json says \(c.numAttentionHeads) attention heads but --heads \(h) was given")
            }
            if let p = preset, p.numAttentionHeads != c.numAttentionHeads || p.hiddenSize != c.hiddenSize {
                throw CheckpointError(.config, file: cfgPath, "config.json (\(c.summary)) contradicts preset \(p.name) (\(p.config.summary))")
            }
            if let t = options.tokenizer {
                c.tokenizer = t  // an explicit --tokenizer wins over the file
            } else if c.tokenizer == nil, let p = preset {
                c.tokenizer = p.tokenizer
            }
            return (c, cfgPath)
        }
        var c = try inferConfig(shapes: weights, source: located.path)
        let inferred = "inferred from tensor shapes (\(located.path))"
        if let p = preset {
            guard p.hiddenSize == c.hiddenSize else {
                throw CheckpointError(.config, file: located.path,
                                      "preset \(p.name) has hidden size \(p.hiddenSize) but the checkpoint's is \(c.hiddenSize); pass --heads N --tokenizer PRESET instead")
            }
            c.numAttentionHeads = options.heads ?? p.numAttentionHeads
            c.tokenizer = options.tokenizer ?? p.tokenizer
            try c.validate(file: located.path)
            return (c, inferred + " + preset \(p.name)")
        }
        if let h = options.heads, let t = options.tokenizer {
            c.numAttentionHeads = h
            c.tokenizer = t
            try c.validate(file: located.path)
            return (c, inferred + " + --heads \(h) --tokenizer \(t)")
        }
        let matches = GLMPreset.matching(c).map(\.name)
        let hint = matches.isEmpty ? "" : " (the shapes match preset\(matches.count > 1 ? "s" : "") \(matches.joined(separator: ", ")))"
        let lacking = [options.heads == nil ? "the attention head count" : nil, options.tokenizer == nil ? "the tokenizer" : nil]
            .compactMap { $0 }.joined(separator: " and ")
        throw CheckpointError(.config, file: located.path,
                              "no config.json, and \(lacking) cannot be read from tensor shapes (\(c.numLayers) layers, hidden \(c.hiddenSize), vocab \(c.vocabSize), max positions \(c.maxSequenceLength)): pass --preset NAME or --heads N --tokenizer PRESET\(hint)")
    }

    /// Layers, hidden size, vocabulary and position-table size from the tensors; heads are unknown
    /// (set to 1 until a preset or option supplies them).
    public static func inferConfig(weights: StateDict, source: String) throws -> GLMConfig {
        try inferConfig(shapes: weights.mapValues { TensorShape(dtype: $0.dtype, shape: $0.shape) }, source: source)
    }

    /// `inferConfig` from dtypes and shapes alone.
    public static func inferConfig(shapes weights: [String: TensorShape], source: String) throws -> GLMConfig {
        guard let we = weights["word_embeddings.weight"], we.shape.count == 2 else {
            throw CheckpointError(.missingKey, file: source, "cannot infer the config: tensor 'word_embeddings.weight' [vocab, hidden] is missing")
        }
        guard let pe = weights["transformer.position_embeddings.weight"], pe.shape.count == 2, pe.shape[0] >= 2 else {
            throw CheckpointError(.missingKey, file: source, "cannot infer the config: tensor 'transformer.position_embeddings.weight' [max_positions + 1, hidden] is missing")
        }
        var layers = 0
        while weights["transformer.layers.\(layers).attention.query_key_value.weight"] != nil { layers += 1 }
        guard layers > 0 else {
            throw CheckpointError(.missingKey, file: source, "cannot infer the config: no 'transformer.layers.0.attention.query_key_value.weight'")
        }
        if weights.keys.contains(where: { $0.contains("r_w_bias") || $0.contains("relative") }) {
            throw CheckpointError(.config, file: source, "the checkpoint uses relative (Transformer-XL) encoding, which is not supported")
        }
        return GLMConfig(numLayers: layers, hiddenSize: we.shape[1], numAttentionHeads: 1, vocabSize: we.shape[0],
                         maxSequenceLength: pe.shape[0] - 1,
                         blockPositionEncoding: weights["transformer.block_position_embeddings.weight"] != nil)
    }
}

/// A tensor of a checkpoint whose name, dtype and shape are known without reading its bytes, and whose
/// bytes are produced on demand: a view of a mapped file, or (model-parallel ranks, int8 files) a merged
/// or dequantised heap copy made by `load()`. See `ModelFiles.lazyTensors`.
public struct LazyTensor: @unchecked Sendable {
    public let name: String
    /// The dtype `load()` returns.
    public let dtype: StoredDType
    public let shape: [Int]
    /// The file(s) it comes from, for messages.
    public let provenance: String
    let produce: () throws -> TensorData
    let release: () -> Void

    public var byteCount: Int { shape.reduce(1, *) * dtype.byteSize }

    /// The bytes (a heap copy for merged/dequantised tensors: drop it before loading the next).
    public func load() throws -> TensorData { try produce() }

    /// Lets the kernel drop the resident pages of the mapped source bytes (values stay readable).
    public func releasePages() { release() }
}
