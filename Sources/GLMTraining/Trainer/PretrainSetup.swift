// Turning command-line options into a run spec, for new runs and for resumed ones.
import GLM

/// One option the user gave, as its effect on the spec. New runs apply every edit to a base spec;
/// resumed runs apply each to the STORED spec and refuse the option if that would change it — so a
/// resumed run is always the run that was checkpointed, and a changed option is an error, not a surprise.
public struct SpecEdit {
    /// How the option reads on the command line (e.g. "--lr 0.0002"), for messages.
    public let option: String
    public let apply: (inout TrainingSpec) -> Void

    public init(_ option: String, _ apply: @escaping (inout TrainingSpec) -> Void) {
        self.option = option
        self.apply = apply
    }
}

public enum PretrainSetup {
    /// Applies `edits` in order.
    public static func applying(_ edits: [SpecEdit], to base: TrainingSpec) -> TrainingSpec {
        var s = base
        for e in edits { e.apply(&s) }
        return s
    }

    /// Throws `resumeConflict` naming every option that would change the stored spec.
    public static func checkResume(stored: TrainingSpec, edits: [SpecEdit]) throws {
        var conflicts: [String] = []
        for e in edits {
            var s = stored
            e.apply(&s)
            if s != stored { conflicts.append(e.option) }
        }
        if !conflicts.isEmpty {
            throw TrainingError.resumeConflict("\(conflicts.joined(separator: ", ")) differ\(conflicts.count == 1 ? "s" : "") from the checkpointed run; drop \(conflicts.count == 1 ? "it" : "them") to continue that run, or start a new run in another --save folder")
        }
    }

    /// Embedding rows for a tokenizer of `tokenCount` ids: rounded up to a multiple of 128, as the original.
    public static func paddedVocabulary(_ tokenCount: Int) -> Int { (tokenCount + 127) / 128 * 128 }
}
