// The command-token lists each GLM tokenizer class builds (data_utils/tokenization.py), including
// the ids they share: RoBERTa's pad/eos/sep are all `</s>`, and GLM-10B-Chinese (no
// --fix-command-token) gives [gMASK] the id of <|endofpiece|>.

enum CommandTokenTables {
    /// BertWordPieceTokenizer with add_block_symbols (and optionally add_task_mask).
    static func bert(vocab: WordPieceModel, taskMask: Bool) throws -> (tokens: [CommandToken], numTokens: Int, numTextTokens: Int) {
        func id(_ t: String) throws -> Int {
            guard let v = vocab.index(of: t) else { throw TokenizerError.missingEntry(path: vocab.path, entry: t) }
            return v
        }
        var numTokens = vocab.distinctCount
        let numText = numTokens - 5
        var list = [
            CommandToken(name: "pad", token: "[PAD]", id: try id("[PAD]")),
            CommandToken(name: "ENC", token: "[CLS]", id: try id("[CLS]")),
            CommandToken(name: "MASK", token: "[MASK]", id: try id("[MASK]")),
            CommandToken(name: "unk", token: "[UNK]", id: try id("[UNK]")),
            CommandToken(name: "sep", token: "[SEP]", id: try id("[SEP]")),
            CommandToken(name: "eos", token: "[PAD]", id: try id("[PAD]")),
        ]
        list.append(CommandToken(name: "sop", token: "<|startofpiece|>", id: numTokens))
        list.append(CommandToken(name: "eop", token: "<|endofpiece|>", id: numTokens + 1))
        numTokens += 2
        if taskMask {
            list.append(CommandToken(name: "gMASK", token: "[gMASK]", id: numTokens))
            list.append(CommandToken(name: "sMASK", token: "[sMASK]", id: numTokens + 1))
            numTokens += 2
        }
        return (list, numTokens, numText)
    }

    /// GPT2BPETokenizer for `gpt2` or `roberta` files, with add_block_symbols.
    static func byteLevel(model: ByteLevelBPEModel, roberta: Bool, taskMask: Bool) throws -> (tokens: [CommandToken], numTokens: Int, numTextTokens: Int) {
        func id(_ t: String) throws -> Int {
            guard let v = model.encoder.lookup(t) else { throw TokenizerError.missingEntry(path: model.vocabPath, entry: t) }
            return Int(v)
        }
        var numTokens = model.count
        var list: [CommandToken]
        let numText: Int
        if roberta {
            numText = numTokens - 3
            let end = try id("</s>")
            list = [
                CommandToken(name: "pad", token: "<|endoftext|>", id: end),
                CommandToken(name: "eos", token: "<|endoftext|>", id: end),
                CommandToken(name: "sep", token: "[SEP]", id: end),
                CommandToken(name: "ENC", token: "[CLS]", id: try id("<s>")),
                CommandToken(name: "MASK", token: "[MASK]", id: try id("<mask>"), lstrip: true),
                CommandToken(name: "unk", token: "[UNK]", id: try id("<unk>")),
                CommandToken(name: "sop", token: "<|startofpiece|>", id: numTokens),
                CommandToken(name: "eop", token: "<|endofpiece|>", id: numTokens + 1),
            ]
            numTokens += 2
        } else {
            numText = numTokens - 1
            let eot = try id("<|endoftext|>")
            list = [
                CommandToken(name: "pad", token: "<|endoftext|>", id: eot),
                CommandToken(name: "eos", token: "<|endoftext|>", id: eot),
                CommandToken(name: "sop", token: "<|startofpiece|>", id: numTokens),
                CommandToken(name: "eop", token: "<|endofpiece|>", id: numTokens + 1),
                CommandToken(name: "ENC", token: "[CLS]", id: numTokens + 2),
                CommandToken(name: "MASK", token: "[MASK]", id: numTokens + 3, lstrip: true),
                CommandToken(name: "sep", token: "[SEP]", id: numTokens + 4),
                CommandToken(name: "unk", token: "[UNK]", id: numTokens + 5),
            ]
            numTokens += 6
        }
        if taskMask {
            list.append(CommandToken(name: "gMASK", token: "[gMASK]", id: numTokens, lstrip: true))
            list.append(CommandToken(name: "sMASK", token: "[sMASK]", id: numTokens + 1, lstrip: true))
            numTokens += 2
        }
        return (list, numTokens, numText)
    }

    /// ChineseSPTokenizer with add_block_symbols and add_task_mask (as both Chinese presets are).
    static func chineseSP(pieceCount: Int, taskMask: Bool, fixCommandToken: Bool) -> (tokens: [CommandToken], numTokens: Int, numTextTokens: Int) {
        let n = pieceCount
        var numTokens = n
        var list = [
            CommandToken(name: "pad", token: "<|endoftext|>", id: n),
            CommandToken(name: "eos", token: "<|endoftext|>", id: n),
            CommandToken(name: "sep", token: "[SEP]", id: n + 1),
            CommandToken(name: "ENC", token: "[CLS]", id: n + 2),
            CommandToken(name: "MASK", token: "[MASK]", id: n + 3, lstrip: true),
            CommandToken(name: "unk", token: "[UNK]", id: n + 4),
        ]
        numTokens += 5
        // sop/eop skip one id (num_tokens + 1), which is why id n+5 is never used.
        list.append(CommandToken(name: "sop", token: "<|startofpiece|>", id: numTokens + 1))
        list.append(CommandToken(name: "eop", token: "<|endofpiece|>", id: numTokens + 2))
        numTokens += fixCommandToken ? 3 : 2
        if taskMask {
            if fixCommandToken {
                list.append(CommandToken(name: "sMASK", token: "[sMASK]", id: numTokens, lstrip: true))
                list.append(CommandToken(name: "gMASK", token: "[gMASK]", id: numTokens + 1, lstrip: true))
            } else {
                list.append(CommandToken(name: "gMASK", token: "[gMASK]", id: numTokens, lstrip: true))
                list.append(CommandToken(name: "sMASK", token: "[sMASK]", id: numTokens + 1, lstrip: true))
            }
            numTokens += 2
        }
        return (list, numTokens, n)
    }
}
