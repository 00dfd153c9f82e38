import GLMTokenizers

/// One model input of the language-model tasks: exactly the dict the original's `LambadaDataset` /
/// `LMDataset.__getitem__` return (`text`, `position_id`, `attention_mask` = sep, `target`, `loss_mask`),
/// padded to the original's length with the eos id.
public struct LanguageModelSample: Sendable, Equatable {
    /// Token ids (`text`).
    public var ids: [Int]
    /// [2][length] (`position_id`): positions, then block positions.
    public var positions: [[Int]]
    /// `attention_mask`: positions below it attend bidirectionally, later ones causally.
    public var sep: Int
    /// `target`: at position t the id position t must predict.
    public var targets: [Int]
    /// `loss_mask`: 1 where the target is scored.
    public var lossMask: [Int]
    /// The unpadded length. Padding comes after `sep` (causal), so no real position attends to it and a
    /// forward pass over the first `length` positions gives the scores of the padded row.
    public var length: Int

    /// Indices where `lossMask` is set, in order.
    public var lossPositions: [Int] { lossMask.indices.filter { lossMask[$0] != 0 } }
}

public enum LanguageModelError: Error, CustomStringConvertible, Equatable {
    case tokenizer(String)
    case input(String)
    public var description: String {
        switch self {
        case .tokenizer(let m): return "language model: tokenizer: \(m)"
        case .input(let m): return "language model: \(m)"
        }
    }
}

/// The command-token ids the language-model layouts use. `taskMask` picks `[gMASK]` instead of
/// `[MASK]`, as the original's `--task-mask`; `--unidirectional` alone keeps `[MASK]`.
struct LanguageModelTokens: Sendable {
    let cls: Int, mask: Int, sop: Int, eos: Int

    init(_ tokenizer: any Tokenizer, taskMask: Bool) throws {
        func id(_ name: CommandName) throws -> Int {
            guard let v = tokenizer.commandToken(name) else {
                throw LanguageModelError.tokenizer("\(tokenizer.name) has no \(name.rawValue) token")
            }
            return v
        }
        cls = try id(.ENC)
        mask = try id(taskMask ? .gMASK : .MASK)
        sop = try id(.sop)
        eos = try id(.eos)
    }

    /// The original's `tasks/data_utils.py build_input_from_ids(partA, None, answer, maxLength,
    /// add_cls=True, add_sep=False, add_piece=True, add_eos=addEos)` for a non-empty answer:
    /// `[CLS] partA [eos]? sop answer[:-1]`; the piece sits at the position of the LAST mask of part A
    /// with block positions 1...n; targets are the answer, all scored; padding with eos to `maxLength`.
    func blockInput(partA: [Int], answer: [Int], maxLength: Int, addEos: Bool) throws -> LanguageModelSample {
        precondition(!answer.isEmpty)
        var ids = [cls] + partA
        if ids.count >= maxLength - (addEos ? 1 : 0) { ids = Array(ids.prefix(maxLength - 1)) }  // the original's cap
        if addEos { ids.append(eos) }
        let sep = ids.count
        guard let maskPosition = ids.lastIndex(of: mask) else {
            throw LanguageModelError.input("the mask token was cut off (the original fails its `assert mask_id in ids`)")
        }
        var positions = Array(0..<sep), blocks = Array(repeating: 0, count: sep)
        var targets = Array(repeating: 0, count: sep), loss = Array(repeating: 0, count: sep)
        ids += [sop] + answer.dropLast()
        positions += Array(repeating: maskPosition, count: answer.count)
        blocks += Array(1...answer.count)
        targets += answer
        loss += Array(repeating: 1, count: answer.count)
        let length = ids.count
        let k = maxLength - length
        if k > 0 {
            ids += Array(repeating: eos, count: k)
            positions += Array(repeating: 0, count: k)
            blocks += Array(repeating: 0, count: k)
            targets += Array(repeating: 0, count: k)
            loss += Array(repeating: 0, count: k)
        }
        return LanguageModelSample(ids: ids, positions: [positions, blocks], sep: sep, targets: targets, lossMask: loss, length: length)
    }
}
