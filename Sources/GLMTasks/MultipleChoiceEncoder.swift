import GLMTokenizers

/// The model input of one multiple-choice item: one row per choice, each padded to `seqLength`, exactly
/// the arrays the original's `MultiChoiceDataset.__getitem__` returns (`text`, `position`, `mask`,
/// `target`, `logit_mask`, `label`).
public struct MultipleChoiceSample: Sendable, Equatable {
    /// Token ids [choices][seqLength] (`text`), padded with the eos id.
    public var ids: [[Int]]
    /// [choices][2][seqLength] (`position`): row 0 positions, row 1 block positions.
    public var positions: [[[Int]]]
    /// Per choice the `sep` (`mask`): positions below it attend bidirectionally, later ones causally.
    public var seps: [Int]
    /// [choices][seqLength] (`target`): at position t the id position t must predict.
    public var targets: [[Int]]
    /// [choices][seqLength] (`logit_mask`): 1 where the target counts (the choice tokens).
    public var logitMasks: [[Int]]
    public var label: Int
    /// Per choice the unpadded length. Later positions are padding that no earlier position attends to
    /// (they are all at or after `sep`, hence causal), so a forward pass over the first `lengths` positions
    /// gives the same scores as over the padded row.
    public var lengths: [Int]
}

public enum MultipleChoiceError: Error, CustomStringConvertible, Equatable {
    case tokenizer(String)
    case input(String)
    public var description: String {
        switch self {
        case .tokenizer(let m): return "multiple choice: tokenizer: \(m)"
        case .input(let m): return "multiple choice: \(m)"
        }
    }
}

/// Builds samples as the original's zero-shot multiple choice (`MultiChoiceDataset` with
/// `tasks/data_utils.py build_input_from_ids` / `build_uni_input_from_ids`).
///
/// Bidirectional (the default): `[CLS] input [MASK]? [eos] sop choice[:-1]`. `[MASK]` is appended only
/// when the input has none; the LAST `[MASK]` is the blank (its position is the position id of the whole
/// choice, whose block positions are 1...n). The choice tokens carry no `eop` (unlike the SuperGLUE
/// patterns). Unidirectional: `[CLS] [gMASK] sop input choice[:-1]` with `sep` = 2, so the input is read
/// left to right like a language model and only the choice tokens are scored.
/// Too long inputs lose tokens at the FRONT (`inputs[-text_length:]`), keeping the question's end next
/// to the answer.
public struct MultipleChoiceEncoder: Sendable {
    public let tokenizer: any Tokenizer
    public let seqLength: Int
    public let unidirectional: Bool
    let cls: Int, mask: Int, sop: Int, eos: Int

    public init(tokenizer: any Tokenizer, seqLength: Int = 512, unidirectional: Bool = false) throws {
        func id(_ name: CommandName) throws -> Int {
            guard let v = tokenizer.commandToken(name) else {
                throw MultipleChoiceError.tokenizer("\(tokenizer.name) has no \(name.rawValue) token"
                    + (name == .gMASK ? " (--unidirectional needs a tokenizer with task masks)" : ""))
            }
            return v
        }
        guard seqLength >= 4 else { throw MultipleChoiceError.input("sequence length \(seqLength) is too short") }
        self.tokenizer = tokenizer
        self.seqLength = seqLength
        self.unidirectional = unidirectional
        cls = try id(.ENC)
        mask = try id(unidirectional ? .gMASK : .MASK)
        sop = try id(.sop)
        eos = try id(.eos)
    }

    /// Tokenizes with the original's `EncodeAsIds` (a literal `[MASK]` in the text is the mask token).
    public func encode(_ item: MultipleChoiceItem) throws -> MultipleChoiceSample {
        try encode(inputIds: tokenizer.encode(item.inputs), choiceIds: item.choices.map(tokenizer.encode), label: item.label)
    }

    public func encode(inputIds: [Int], choiceIds: [[Int]], label: Int = 0) throws -> MultipleChoiceSample {
        guard let maxChoice = choiceIds.map(\.count).max() else { throw MultipleChoiceError.input("no choices") }
        if let empty = choiceIds.firstIndex(where: \.isEmpty) {
            throw MultipleChoiceError.input("choice \(empty) has no tokens (it would score 0, better than any real answer)")
        }
        var inputs = inputIds
        if !unidirectional && !inputs.contains(mask) { inputs.append(mask) }
        if inputs.count + maxChoice + 2 > seqLength {
            let textLength = seqLength - maxChoice - 2
            guard textLength > 0 else {
                throw MultipleChoiceError.input("a choice of \(maxChoice) tokens leaves no room for the input in \(seqLength) positions")
            }
            inputs = Array(inputs.suffix(textLength))
        }
        var sample = MultipleChoiceSample(ids: [], positions: [], seps: [], targets: [], logitMasks: [], label: label, lengths: [])
        for choice in choiceIds {
            var row = unidirectional ? unidirectionalRow(inputs, choice) : try bidirectionalRow(inputs, choice)
            sample.lengths.append(row.ids.count)
            guard row.ids.count <= seqLength else {
                throw MultipleChoiceError.input("sample of \(row.ids.count) tokens exceeds the sequence length \(seqLength)")
            }
            row.pad(to: seqLength, with: eos)
            sample.ids.append(row.ids)
            sample.positions.append([row.positions, row.blocks])
            sample.seps.append(row.sep)
            sample.targets.append(row.targets)
            sample.logitMasks.append(row.logitMask)
        }
        return sample
    }

    /// `build_input_from_ids(inputs, None, choice, add_cls=True, add_sep=False, add_piece=True)`.
    func bidirectionalRow(_ inputs: [Int], _ choice: [Int]) throws -> Row {
        var ids = [cls] + inputs
        if ids.count >= seqLength - 1 { ids = Array(ids.prefix(seqLength - 1)) }  // the original's cap (kept for fidelity)
        ids.append(eos)
        let sep = ids.count
        guard let maskPosition = ids.lastIndex(of: mask) else {
            throw MultipleChoiceError.input("the [MASK] was cut off by the truncation (put it nearer the end of the input)")
        }
        var row = Row(ids: ids, positions: Array(0..<sep), blocks: Array(repeating: 0, count: sep),
                      targets: Array(repeating: 0, count: sep), logitMask: Array(repeating: 0, count: sep), sep: sep)
        row.ids += [sop] + choice.dropLast()
        row.positions += Array(repeating: maskPosition, count: choice.count)
        row.blocks += Array(1...choice.count)
        row.targets += choice
        row.logitMask += Array(repeating: 1, count: choice.count)
        return row
    }

    /// `build_uni_input_from_ids(inputs, choice, add_cls=True)` with `mask_id` = gMASK.
    func unidirectionalRow(_ inputs: [Int], _ choice: [Int]) -> Row {
        let ids = [cls, mask, sop] + inputs + choice.dropLast()
        let n = ids.count
        let maskPosition = 1
        let scoredFrom = n - choice.count  // the last input token predicts the first choice token
        return Row(ids: ids, positions: [0, 1] + Array(repeating: maskPosition, count: n - 2),
                   blocks: [0, 0] + Array(1...(n - 2)),
                   targets: Array(repeating: 0, count: scoredFrom) + choice,
                   logitMask: Array(repeating: 0, count: scoredFrom) + Array(repeating: 1, count: choice.count), sep: 2)
    }

    struct Row {
        var ids: [Int], positions: [Int], blocks: [Int], targets: [Int], logitMask: [Int], sep: Int

        /// Padding as the original: eos ids at position 0, block position 0, never scored.
        mutating func pad(to length: Int, with eos: Int) {
            let k = length - ids.count
            guard k > 0 else { return }
            ids += Array(repeating: eos, count: k)
            positions += Array(repeating: 0, count: k)
            blocks += Array(repeating: 0, count: k)
            targets += Array(repeating: 0, count: k)
            logitMask += Array(repeating: 0, count: k)
        }
    }
}
