/// A reference to one torch storage inside a checkpoint (the pickle's persistent id
/// `('storage', torch.<Type>Storage, key, location, numel)`). Nothing is read until a tensor is materialised.
public struct StorageRef: Sendable, Equatable {
    public let key: String
    public let dtype: StoredDType
    public let elementCount: Int
    public let location: String
}

/// A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage.
public struct TensorRef: Sendable, Equatable {
    public let storage: StorageRef
    public let offset: Int
    public let shape: [Int]
    public let stride: [Int]
}

/// The inert result of unpickling: plain data only. Anything a pickle would normally *call* has either
/// been interpreted by the allow-list (OrderedDict, tensors, sets, ...) or kept as an inert `.object`
/// record of an allowed class; nothing is ever executed.
public indirect enum PickleValue: Sendable {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case list([PickleValue])
    case tuple([PickleValue])
    /// Insertion-ordered, as Python dicts are.
    case dict([(key: PickleValue, value: PickleValue)])
    case global(module: String, name: String)
    case storage(StorageRef)
    case tensor(TensorRef)
    /// An instance of an allow-listed plain-data class (e.g. `argparse.Namespace`), never constructed:
    /// `args` are its constructor arguments and `state` what BUILD would have set.
    case object(type: String, args: [PickleValue], state: PickleValue?)

    /// The value under a string key, for dicts (and for an object's state dict).
    public subscript(key: String) -> PickleValue? {
        switch self {
        case .dict(let items):
            for (k, v) in items { if case .string(let s) = k, s == key { return v } }
            return nil
        case .object(_, _, let state?):
            return state[key]
        default:
            return nil
        }
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// The keys of a dict whose keys are all strings, in order.
    public var stringKeys: [String]? {
        guard case .dict(let items) = self else { return nil }
        var out: [String] = []
        for (k, _) in items { guard case .string(let s) = k else { return nil }; out.append(s) }
        return out
    }

    /// A one-word description of the kind of value, for error messages.
    public var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .global(let m, let n): return "global \(m).\(n)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        case .object(let t, _, _): return "object \(t)"
        }
    }
}
