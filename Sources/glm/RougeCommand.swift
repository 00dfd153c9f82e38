import ArgumentParser
import Foundation
import GLMTasks

/// `glm rouge`: ROUGE of a prediction file against a reference file, as rouge-score 0.1.2 (`--mode plain`) or
/// as the original's in-training `tasks/seq2seq/evaluate.py rouge_metric` (`cnn_dm`, `cnn_dm_org`, `gigaword`).
struct RougeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rouge",
        abstract: "ROUGE-1/2/L/Lsum of predictions against references (rouge-score 0.1.2, Porter-stemmed).",
        discussion: """
            One example per line in each file (same number of lines). The last stdout line is JSON: \
            {"rouge1": {"precision": P, "recall": R, "fmeasure": F}, "rouge2": ..., "rougeL": ..., "rougeLsum": ...}, \
            means over the pairs, as fractions.
            --mode plain: rouge-score's RougeScorer(use_stemmer=True).score(reference, prediction) on each line as \
            given (rougeLsum splits sentences on newlines only, so on one line it equals rougeL).
            --mode cnn_dm | cnn_dm_org | gigaword: the original's rouge_metric. Both lines are split on [SEP] into \
            sentences (cnn_dm: PTB-style fix_tokenization; gigaword: [UNK] -> UNK; cnn_dm_org: as is), prediction \
            sentences of at most 4 words and those sharing more than 70% of their word set with earlier ones are \
            dropped, and the original's swapped call score(prediction, reference) is made. fmeasure is exactly what \
            the original reports (its rouge-1, rouge-2, and rouge-l = rougeLsum); precision and recall are that \
            call's recall and precision, i.e. measured on the prediction and on the reference as usual; rougeL, \
            which the original does not report, is computed the same way.
            --show-lines prints the processed prediction/reference of every pair first (the original's results.json).
            """)

    @Option(help: "File of predictions, one per line.") var pred: String
    @Option(help: "File of references, one per line.") var ref: String
    @Option(help: "cnn_dm, cnn_dm_org, gigaword (the original's rouge_metric; cnn_dm is its default) or plain (rouge-score).") var mode: RougeMode = .cnnDM
    @Flag(name: .customLong("show-lines"), help: "Print {\"ref\", \"pred\"} JSON per pair as scored.") var showLines = false

    func run() throws {
        let result = try RougeMetric.evaluate(predictionFile: pred, referenceFile: ref, mode: mode)  // errors name the files
        if showLines {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            for (p, r) in zip(result.predictions, result.references) {
                print(String(decoding: try encoder.encode(["ref": r, "pred": p]), as: UTF8.self))
            }
        }
        print(result.jsonLine)
    }
}

extension RougeMode: ExpressibleByArgument {}
