import GLMTokenizers

/// Turns seq2seq examples into model samples exactly as the original's `__getitem__` of
/// `Seq2SeqDataset` (summarization), `CustomizationDataset` and `BlankLMDataset`.
///
/// Summarization (cnn_dm_original, cnn_dm, xsum, gigaword): the source is
/// `[CLS] [MASK|sMASK] EncodeAsIds(" Content:") EncodeAsIds(" " + source)`, cut to `srcSeqLength` at the
/// end and padded with the pad id. The padding keeps real positions (0..<src) and lies below `sep` =
/// `srcSeqLength`, so every position attends to it.
///
/// Customization: no prompt; `EncodeAsIds(source)` loses tokens from the FRONT to `srcSeqLength - 3`,
/// then `[CLS] source [MASK|sMASK] [eos]`, padded the same way (or hidden by the explicit mask of
/// `--mask-pad-token`).
///
/// Training targets (both): `EncodeAsIds(" " + target) + [eop]` cut to `tgtSeqLength` (so a cut target
/// loses its `eop`) and padded with pad ids, which are not scored; `text = source + sop + target[:-1]`,
/// positions `mask_pos` with block positions 1...tgt (all 1 with `--no-block-position`). Evaluation
/// samples are `source + sop` at position `[mask_pos, 1]`; `mask_pos` is the FIRST mask id of the source.
///
/// Blank (`BlankLMDataset`, BERT only): no `[CLS]`; see `encodeBlank` and `encodeBlankTest`.
public struct Seq2SeqEncoder: Sendable {
    public let task: Seq2SeqTask
    public let tokenizer: any Tokenizer
    public let cls: Int, mask: Int, pad: Int, sop: Int, eop: Int, eos: Int
    /// Summarization prompt: `[CLS] mask EncodeAsIds(" Content:")`; empty for the other tasks.
    public let prompt: [Int]

    public init(task: Seq2SeqTask, tokenizer: any Tokenizer) throws {
        func id(_ name: CommandName) throws -> Int {
            guard let v = tokenizer.commandToken(name) else {
                throw Seq2SeqError.tokenizer("\(tokenizer.name) has no \(name.rawValue) token"
                    + (name == .sMASK || name == .gMASK ? " (task masks need a tokenizer built with --task-mask)" : ""))
            }
            return v
        }
        self.task = task
        self.tokenizer = tokenizer
        cls = try id(.ENC)
        mask = try id(task.maskCommand)
        pad = try id(.pad)
        sop = try id(.sop)
        eop = try id(.eop)
        eos = try id(.eos)
        prompt = task.kind.isSummarization ? [cls, mask] + tokenizer.encode(" Content:") : []
        guard task.tgtSeqLength >= 1 else { throw Seq2SeqError.configuration("target length \(task.tgtSeqLength) must be at least 1") }
        switch task.kind {
        case .cnnDMOriginal, .cnnDM, .xsum, .gigaword:
            guard task.srcSeqLength >= prompt.count else {
                throw Seq2SeqError.configuration("source length \(task.srcSeqLength) is shorter than the \(prompt.count)-token prompt")
            }
        case .customization:
            guard task.srcSeqLength >= 4 else {
                throw Seq2SeqError.configuration("source length \(task.srcSeqLength) leaves no room for text after [CLS], mask and eos (at least 4)")
            }
        case .blank:
            guard tokenizer.family == .bertWordPiece else {
                throw Seq2SeqError.configuration("the blank task needs the BERT WordPiece tokenizer (the original asserts it), got \(tokenizer.name)")
            }
            guard task.blankMaskRatio >= 0 && task.blankMaskRatio <= 1 else {
                throw Seq2SeqError.configuration("blank mask ratio \(task.blankMaskRatio) is not within 0...1")
            }
            guard task.srcSeqLength >= 1 else { throw Seq2SeqError.configuration("source length \(task.srcSeqLength) must be at least 1") }
        }
        guard !task.maskPadToken || task.kind == .customization else {
            throw Seq2SeqError.configuration("--mask-pad-token applies to the customization task only (the original ignores it for \(task.kind.rawValue))")
        }
    }

    /// The sample of `example` in `split`. The blank task's training and dev samples draw their masked
    /// words from `random` (the dataset's `random.Random(seed)`); no other sample touches it.
    public func encode(_ example: Seq2SeqExample, split: Seq2SeqSplit, random: inout PythonRandom) throws -> Seq2SeqSample {
        if task.kind == .blank {
            if split == .test { return try encodeBlankTest(example) }
            return try encodeBlank(BlankMasking.mask(example.source, ratio: task.blankMaskRatio, random: &random), example: example)
        }
        return try encode(example, split: split)
    }

    /// The sample of `example` in `split`, for every sample that draws no random numbers (all but the
    /// blank task's training and dev samples, which need `encode(_:split:random:)`).
    public func encode(_ example: Seq2SeqExample, split: Seq2SeqSplit) throws -> Seq2SeqSample {
        switch task.kind {
        case .blank:
            guard split == .test else {
                throw Seq2SeqError.configuration("blank \(split.rawValue) samples mask random words: use encode(_:split:random:)")
            }
            return try encodeBlankTest(example)
        case .customization:
            var source = tokenizer.encode(example.source)
            if source.count + 3 > task.srcSeqLength { source = Array(source.suffix(task.srcSeqLength - 3)) }
            return build([cls] + source + [mask, eos], example: example, split: split)
        case .cnnDMOriginal, .cnnDM, .xsum, .gigaword:
            let source = tokenizer.encode(" " + example.source)
            return build(prompt + source.prefix(task.srcSeqLength - prompt.count), example: example, split: split)
        }
    }

    /// Summarization and customization from the unpadded source (`context`, which holds the mask).
    func build(_ context: [Int], example: Seq2SeqExample, split: Seq2SeqSplit) -> Seq2SeqSample {
        let src = task.srcSeqLength, tgt = task.tgtSeqLength
        let source = context + Array(repeating: pad, count: max(src - context.count, 0))
        let sep = source.count
        let maskPosition = source.firstIndex(of: mask)!  // the context always holds one
        var positions = Array(0..<sep), blocks = Array(repeating: 0, count: sep)
        guard split == .train else {
            positions.append(maskPosition)
            blocks.append(1)
            let attention: Seq2SeqAttention
            if task.maskPadToken {
                var m = Array(repeating: Array(repeating: 0, count: src + 1), count: src + 1)
                for r in 0...src { for c in 0..<context.count { m[r][c] = 1 } }
                m[src][src] = 1
                attention = .explicit(m)
            } else {
                attention = .sep(sep)
            }
            return Seq2SeqSample(ids: source + [sop], targets: nil, attention: attention, lossMask: nil,
                                 positions: [positions, blocks], uid: example.guid)
        }
        var target = Array((tokenizer.encode(" " + example.target) + [eop]).prefix(tgt))
        var loss = Array(repeating: 1, count: target.count)
        if target.count < tgt {
            loss += Array(repeating: 0, count: tgt - target.count)
            target += Array(repeating: pad, count: tgt - target.count)
        }
        positions += Array(repeating: maskPosition, count: tgt)
        blocks += task.noBlockPosition ? Array(repeating: 1, count: tgt) : Array(1...tgt)
        let attention: Seq2SeqAttention
        if task.maskPadToken {
            let n = src + tgt
            var m = Array(repeating: Array(repeating: 0, count: n), count: n)
            for r in 0..<n { for c in 0..<context.count { m[r][c] = 1 } }
            for r in src..<n { for c in src...r { m[r][c] = 1 } }
            attention = .explicit(m)
        } else {
            attention = .sep(sep)
        }
        return Seq2SeqSample(ids: source + [sop] + target.dropLast(), targets: Array(repeating: 0, count: sep) + target,
                             attention: attention, lossMask: Array(repeating: 0, count: sep) + loss,
                             positions: [positions, blocks], uid: example.guid)
    }

    /// A blank training or dev sample from masked text: `EncodeAsIds(" " + masked)` (no `[CLS]`) cut or
    /// padded to `srcSeqLength` (= sep); then for every mask id of the source, in order, the piece
    /// `sop span` at the mask's position with block positions 1...n and targets `span eop`. Spans whose
    /// mask was cut off are dropped. Everything is cut or padded to `src + int(src * ratio)`.
    public func encodeBlank(_ masked: BlankMasking.Masked, example: Seq2SeqExample) throws -> Seq2SeqSample {
        let src = task.srcSeqLength
        var ids = Self.padded(tokenizer.encode(" " + masked.source), src, pad)
        let maskPositions = ids.indices.filter { ids[$0] == mask }
        guard maskPositions.count <= masked.spans.count else {
            throw Seq2SeqDataError(file: example.file, line: example.line, reason:
                "\(maskPositions.count) mask tokens for \(masked.spans.count) masked spans (the text already holds a mask token; the original fails its assert)")
        }
        var targets = Array(repeating: 0, count: src), loss = Array(repeating: 0, count: src)
        var positions = Array(0..<src), blocks = Array(repeating: 0, count: src)
        for (i, p) in maskPositions.enumerated() {
            let span = tokenizer.encode(" " + masked.spans[i])
            ids += [sop] + span
            targets += span + [eop]
            loss += Array(repeating: 1, count: span.count + 1)
            positions += Array(repeating: p, count: span.count + 1)
            blocks += Array(1...(span.count + 1))
        }
        let n = task.blankSampleLength
        return Seq2SeqSample(ids: Self.padded(ids, n, pad), targets: Self.padded(targets, n, pad), attention: .sep(src),
                             lossMask: Self.padded(loss, n, 0), positions: [Self.padded(positions, n, 0), Self.padded(blocks, n, 0)],
                             uid: example.guid)
    }

    /// A blank test sample: `EncodeAsIds(" " + source)` cut or padded to `srcSeqLength`, then `sop` at
    /// the FIRST mask's position (block position 1). A source without a mask (or whose mask was cut
    /// off) throws, naming the example's line (the original fails on `list.index`).
    public func encodeBlankTest(_ example: Seq2SeqExample) throws -> Seq2SeqSample {
        let src = task.srcSeqLength
        let source = Self.padded(tokenizer.encode(" " + example.source), src, pad)
        guard let maskPosition = source.firstIndex(of: mask) else {
            throw Seq2SeqDataError(file: example.file, line: example.line, reason:
                "no \(task.maskCommand.rawValue) token within the first \(src) tokens (the blank test source needs a <blank>)")
        }
        return Seq2SeqSample(ids: source + [sop], targets: nil, attention: .sep(src), lossMask: nil,
                             positions: [Array(0..<src) + [maskPosition], Array(repeating: 0, count: src) + [1]], uid: example.guid)
    }

    /// The original's `pad_to`: cut to `n` or pad with `value`.
    static func padded(_ a: [Int], _ n: Int, _ value: Int) -> [Int] {
        a.count > n ? Array(a.prefix(n)) : a + Array(repeating: value, count: n - a.count)
    }
}
