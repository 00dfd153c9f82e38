/// A strict, allow-list pickle reader for torch checkpoints (protocols 2–5).
///
/// Python's pickle is a small stack machine whose GLOBAL + REDUCE opcodes can call any importable
/// function (`os.system`, `builtins.eval`, ...). Here only the opcodes a state dict uses are accepted, and
/// every global is looked up in a fixed table of *interpretations*: OrderedDict becomes a dict, the
/// tensor rebuild functions become `TensorRef`s, storage classes become dtypes, and a few plain-data
/// classes that DeepSpeed checkpoints carry (argparse.Namespace, sets, numpy RNG state, loss scalers)
/// become inert `.object` records. Any other global or opcode is an error naming it, the file and the
/// byte offset. Nothing is ever executed.
///
/// Objects live in a flat arena addressed by index, so that hostile nesting can neither recurse the
/// Swift stack while parsing nor when freeing; the final tree is built with depth and size limits.
public struct Unpickler {
    /// Maximum depth of the produced value tree (a state dict needs about 6).
    public static let maxDepth = 100

    private enum Node {
        case leaf(PickleValue)
        case list([Int])
        case tuple([Int])
        case dict([(Int, Int)])
        case object(type: String, args: [Int], state: Int?)
    }

    /// How an allow-listed global may be used.
    private enum Interpretation {
        case orderedDict
        case rebuildTensor          // _rebuild_tensor / _rebuild_tensor_v2
        case rebuildParameter       // _rebuild_parameter(_with_state): the data tensor itself
        case storageType(StoredDType)     // torch.FloatStorage etc: only inside a persistent id
        case dtype(StoredDType)           // torch.float32 etc: an inert constant
        case set                    // builtins.set / frozenset: becomes a list
        case codecsEncode           // _codecs.encode(str, 'latin1'): how protocol 2 stores bytes
        case inertObject            // plain-data class kept as `.object`
    }

    private static func interpretation(module: String, name: String) -> Interpretation? {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameter
        case ("builtins", "set"), ("builtins", "frozenset"), ("__builtin__", "set"), ("__builtin__", "frozenset"): return .set
        case ("_codecs", "encode"): return .codecsEncode
        case ("argparse", "Namespace"),
             ("torch", "device"),
             ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
             ("numpy", "ndarray"), ("numpy", "dtype"),
             ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
             ("deepspeed.runtime.fp16.loss_scaler", "DynamicLossScaler"),
             ("deepspeed.runtime.fp16.loss_scaler", "LossScaler"):
            return .inertObject
        case ("torch", let n) where n.hasSuffix("Storage"):
            if n == "UntypedStorage" { return .storageType(.uint8) }
            return StoredDType(torchStorageName: n).map { .storageType($0) }
        case ("torch", let n):
            return StoredDType(torchDTypeName: n).map { .dtype($0) }
        default:
            return nil
        }
    }

    let bytes: UnsafeRawBufferPointer
    let file: String
    private var nodes: [Node] = []
    private var stack: [Int] = []
    private var marks: [Int] = []
    private var memo: [Int: Int] = [:]
    private var position = 0

    /// `file` is only used in error messages (e.g. "ckpt.pt: data.pkl").
    public init(bytes: UnsafeRawBufferPointer, file: String) {
        self.bytes = bytes
        self.file = file
    }

    /// Parses one pickle (up to its STOP). `consumed` reports how many bytes it used, for formats that
    /// concatenate several pickles (the legacy torch format).
    public static func load(_ bytes: UnsafeRawBufferPointer, file: String) throws -> PickleValue {
        var u = Unpickler(bytes: bytes, file: file)
        return try u.run()
    }

    public static func load(_ bytes: UnsafeRawBufferPointer, file: String, consumed: inout Int) throws -> PickleValue {
        var u = Unpickler(bytes: bytes, file: file)
        let v = try u.run()
        consumed = u.position
        return v
    }

    // MARK: - errors and raw reads

    private func error(_ kind: CheckpointError.Kind, _ msg: String, at: Int? = nil) -> CheckpointError {
        CheckpointError(kind, file: file, "pickle byte \(at ?? position): \(msg)")
    }

    private mutating func take(_ n: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - position else {
            throw error(.truncated, "\(what) needs \(n) bytes, only \(bytes.count - position) left")
        }
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    private mutating func uint(_ n: Int, _ what: String) throws -> UInt64 {
        let s = try take(n, what)
        var v: UInt64 = 0
        for i in stride(from: n - 1, through: 0, by: -1) { v = (v << 8) | UInt64(s[i]) }
        return v
    }

    private mutating func length(_ n: Int, _ what: String) throws -> Int {
        let v = try uint(n, what)
        guard v <= UInt64(bytes.count - position) else {
            throw error(.truncated, "\(what) of \(v) bytes runs past the end of the pickle")
        }
        return Int(v)
    }

    private mutating func utf8(_ n: Int, _ what: String) throws -> String {
        let s = try take(n, what)
        guard let str = String(validating: s, as: UTF8.self) else { throw error(.malformed, "\(what) is not valid UTF-8") }
        return str
    }

    // MARK: - stack helpers

    private mutating func push(_ node: Node) {
        nodes.append(node)
        stack.append(nodes.count - 1)
    }

    private mutating func pushLeaf(_ v: PickleValue) { push(.leaf(v)) }

    private mutating func pop(_ op: String) throws -> Int {
        if let m = marks.last, stack.count <= m { throw error(.malformed, "\(op) pops across a MARK") }
        guard let top = stack.popLast() else { throw error(.malformed, "\(op) on an empty stack") }
        return top
    }

    private func top(_ op: String) throws -> Int {
        if let m = marks.last, stack.count <= m { throw error(.malformed, "\(op) reads across a MARK") }
        guard let t = stack.last else { throw error(.malformed, "\(op) on an empty stack") }
        return t
    }

    /// Items pushed since the last MARK (which is removed).
    private mutating func popMark(_ op: String) throws -> [Int] {
        guard let m = marks.popLast() else { throw error(.malformed, "\(op) without a MARK") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    private func leaf(_ i: Int) -> PickleValue? { if case .leaf(let v) = nodes[i] { return v }; return nil }

    private func tupleItems(_ i: Int) -> [Int]? { if case .tuple(let t) = nodes[i] { return t }; return nil }

    private func intArg(_ i: Int, _ what: String) throws -> Int {
        guard case .leaf(.int(let v))? = Optional(nodes[i]), let iv = Int(exactly: v) else {
            throw error(.malformed, "\(what) is not an integer")
        }
        return iv
    }

    private func intTuple(_ i: Int, _ what: String) throws -> [Int] {
        guard let t = tupleItems(i) else { throw error(.malformed, "\(what) is not a tuple") }
        return try t.map { try intArg($0, what) }
    }

    private mutating func appendItems(_ target: Int, _ items: [Int], _ op: String) throws {
        switch nodes[target] {
        case .list(var l):
            nodes[target] = .leaf(.none)   // release the array so the append does not copy it
            l.append(contentsOf: items)
            nodes[target] = .list(l)
        case .object(let t, let a, let s) where t == "set":
            nodes[target] = .object(type: t, args: a + items, state: s)
        default:
            throw error(.malformed, "\(op) on a non-list")
        }
    }

    private mutating func setItems(_ target: Int, _ items: [Int], _ op: String) throws {
        guard items.count % 2 == 0 else { throw error(.malformed, "\(op) with an odd number of items") }
        guard case .dict(var d) = nodes[target] else { throw error(.malformed, "\(op) on a non-dict") }
        nodes[target] = .leaf(.none)
        var i = 0
        while i < items.count { d.append((items[i], items[i + 1])); i += 2 }
        nodes[target] = .dict(d)
    }

    // MARK: - the machine

    private mutating func run() throws -> PickleValue {
        // Guards against forged inputs that would otherwise loop on a cheap opcode forever: every opcode
        // consumes at least one byte, so the loop is bounded by the input length.
        while true {
            let opAt = position
            let op = try take(1, "opcode")[0]
            switch op {
            case 0x80: // PROTO
                let p = try take(1, "protocol")[0]
                guard p <= 5 else { throw error(.unsupported, "pickle protocol \(p) is newer than 5", at: opAt) }
            case 0x95: // FRAME: just a length prefix for buffering
                _ = try take(8, "frame length")
            case 0x2E: // STOP
                guard stack.count == 1, marks.isEmpty else {
                    throw error(.malformed, "STOP with \(stack.count) items on the stack", at: opAt)
                }
                var budget = 64 * bytes.count + 100_000
                return try build(stack[0], depth: 0, budget: &budget)
            case 0x28: // MARK
                marks.append(stack.count)
            case 0x7D: push(.dict([]))         // EMPTY_DICT
            case 0x5D: push(.list([]))         // EMPTY_LIST
            case 0x29: push(.tuple([]))        // EMPTY_TUPLE
            case 0x8F: push(.object(type: "set", args: [], state: nil)) // EMPTY_SET
            case 0x4E: pushLeaf(.none)         // NONE
            case 0x88: pushLeaf(.bool(true))   // NEWTRUE
            case 0x89: pushLeaf(.bool(false))  // NEWFALSE
            case 0x4B: pushLeaf(.int(Int64(try uint(1, "BININT1"))))
            case 0x4D: pushLeaf(.int(Int64(try uint(2, "BININT2"))))
            case 0x4A: pushLeaf(.int(Int64(Int32(truncatingIfNeeded: try uint(4, "BININT")))))
            case 0x8A, 0x8B: // LONG1, LONG4: little-endian two's complement
                let n = op == 0x8A ? Int(try uint(1, "LONG1 length")) : try length(4, "LONG4 length")
                let s = try take(n, "long")
                guard n <= 8 else {
                    throw error(.unsupported, "integer of \(n) bytes does not fit in 64 bits", at: opAt)
                }
                var v: UInt64 = 0
                for i in stride(from: n - 1, through: 0, by: -1) { v = (v << 8) | UInt64(s[i]) }
                if n > 0 && n < 8 && s[n - 1] & 0x80 != 0 { v |= ~UInt64(0) << (8 * UInt64(n)) } // sign-extend
                pushLeaf(.int(Int64(bitPattern: v)))
            case 0x47: // BINFLOAT: big-endian double
                let s = try take(8, "BINFLOAT")
                var v: UInt64 = 0
                for i in 0..<8 { v = (v << 8) | UInt64(s[i]) }
                pushLeaf(.float(Double(bitPattern: v)))
            case 0x58: pushLeaf(.string(try utf8(try length(4, "BINUNICODE length"), "BINUNICODE")))
            case 0x8C: pushLeaf(.string(try utf8(try length(1, "SHORT_BINUNICODE length"), "SHORT_BINUNICODE")))
            case 0x8D: pushLeaf(.string(try utf8(try length(8, "BINUNICODE8 length"), "BINUNICODE8")))
            case 0x42: pushLeaf(.bytes(Array(try take(try length(4, "BINBYTES length"), "BINBYTES"))))
            case 0x43: pushLeaf(.bytes(Array(try take(try length(1, "SHORT_BINBYTES length"), "SHORT_BINBYTES"))))
            case 0x8E: pushLeaf(.bytes(Array(try take(try length(8, "BINBYTES8 length"), "BINBYTES8"))))
            case 0x54: pushLeaf(.bytes(Array(try take(try length(4, "BINSTRING length"), "BINSTRING"))))
            case 0x55: pushLeaf(.bytes(Array(try take(try length(1, "SHORT_BINSTRING length"), "SHORT_BINSTRING"))))
            case 0x74: push(.tuple(try popMark("TUPLE")))                       // TUPLE
            case 0x85: let a = try pop("TUPLE1"); push(.tuple([a]))             // TUPLE1
            case 0x86: let b = try pop("TUPLE2"); let a = try pop("TUPLE2"); push(.tuple([a, b]))
            case 0x87:
                let c = try pop("TUPLE3"); let b = try pop("TUPLE3"); let a = try pop("TUPLE3")
                push(.tuple([a, b, c]))
            case 0x6C: push(.list(try popMark("LIST")))                         // LIST
            case 0x64: // DICT
                let items = try popMark("DICT")
                push(.dict([]))
                try setItems(stack.last!, items, "DICT")
            case 0x91: push(.object(type: "set", args: try popMark("FROZENSET"), state: nil)) // FROZENSET
            case 0x61: // APPEND
                let v = try pop("APPEND")
                try appendItems(try top("APPEND"), [v], "APPEND")
            case 0x65, 0x90: // APPENDS, ADDITEMS
                let items = try popMark("APPENDS")
                try appendItems(try top("APPENDS"), items, "APPENDS")
            case 0x73: // SETITEM
                let v = try pop("SETITEM"); let k = try pop("SETITEM")
                try setItems(try top("SETITEM"), [k, v], "SETITEM")
            case 0x75: // SETITEMS
                let items = try popMark("SETITEMS")
                try setItems(try top("SETITEMS"), items, "SETITEMS")
            case 0x30: _ = try pop("POP")                                        // POP
            case 0x31: _ = try popMark("POP_MARK")                               // POP_MARK
            case 0x32: stack.append(try top("DUP"))                              // DUP
            case 0x71: memo[Int(try uint(1, "BINPUT index"))] = try top("BINPUT")
            case 0x72: memo[Int(try uint(4, "LONG_BINPUT index"))] = try top("LONG_BINPUT")
            case 0x94: memo[memo.count] = try top("MEMOIZE")
            case 0x68, 0x6A: // BINGET, LONG_BINGET
                let i = Int(try uint(op == 0x68 ? 1 : 4, "memo index"))
                guard let v = memo[i] else { throw error(.malformed, "memo index \(i) was never stored", at: opAt) }
                stack.append(v)
            case 0x63: // GLOBAL "module\nname\n"
                var r = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[position...]), file: file, baseOffset: position)
                let m = String(decoding: try r.line(maxLength: 256, "GLOBAL module"), as: UTF8.self)
                let n = String(decoding: try r.line(maxLength: 256, "GLOBAL name"), as: UTF8.self)
                position += r.position
                try pushGlobal(module: m, name: n, at: opAt)
            case 0x93: // STACK_GLOBAL
                let n = try pop("STACK_GLOBAL"); let m = try pop("STACK_GLOBAL")
                guard case .string(let ms)? = leaf(m), case .string(let ns)? = leaf(n) else {
                    throw error(.malformed, "STACK_GLOBAL needs two strings", at: opAt)
                }
                try pushGlobal(module: ms, name: ns, at: opAt)
            case 0x51: // BINPERSID
                let pid = try pop("BINPERSID")
                pushLeaf(.storage(try persistentStorage(pid, at: opAt)))
            case 0x52: // REDUCE
                let args = try pop("REDUCE"); let callable = try pop("REDUCE")
                push(try reduce(callable, args, at: opAt))
            case 0x81: // NEWOBJ
                let args = try pop("NEWOBJ"); let cls = try pop("NEWOBJ")
                push(try newObject(cls, args: args, at: opAt))
            case 0x92: // NEWOBJ_EX
                _ = try pop("NEWOBJ_EX"); let args = try pop("NEWOBJ_EX"); let cls = try pop("NEWOBJ_EX")
                push(try newObject(cls, args: args, at: opAt))
            case 0x62: // BUILD
                let state = try pop("BUILD")
                let target = try top("BUILD")
                switch nodes[target] {
                case .object(let t, let a, _): nodes[target] = .object(type: t, args: a, state: state)
                case .dict: break // OrderedDict's attributes (state_dict()._metadata): not needed, dropped
                default: throw error(.malformed, "BUILD on a value that takes no state", at: opAt)
                }
            default:
                throw error(.forbidden, "opcode 0x\(String(op, radix: 16)) is not allowed in a checkpoint (unknown or not needed by a state dict)", at: opAt)
            }
        }
    }

    private mutating func pushGlobal(module: String, name: String, at: Int) throws {
        guard Unpickler.interpretation(module: module, name: name) != nil else {
            throw error(.forbidden, "global '\(module).\(name)' is not on the allow-list; refusing to load (a checkpoint needs only tensors, dicts and plain data)", at: at)
        }
        pushLeaf(.global(module: module, name: name))
    }

    private func persistentStorage(_ pid: Int, at: Int) throws -> StorageRef {
        // ('storage', storage_type, key, location, numel) — legacy files append a view tuple we ignore.
        guard let t = tupleItems(pid), t.count == 5 || t.count == 6,
              case .string("storage")? = leaf(t[0]) else {
            throw error(.malformed, "persistent id is not a ('storage', type, key, location, size) tuple", at: at)
        }
        guard case .global(let m, let n)? = leaf(t[1]),
              case .storageType(let dtype)? = Unpickler.interpretation(module: m, name: n) else {
            throw error(.malformed, "persistent id names no torch storage type", at: at)
        }
        guard let key = leaf(t[2])?.stringValue ?? leaf(t[2])?.intValue.map({ String($0) }) else {
            throw error(.malformed, "storage key is not a string", at: at)
        }
        let location = leaf(t[3])?.stringValue ?? "?"
        if t.count == 6, !(leaf(t[5]).map { if case .none = $0 { return true } else { return false } } ?? false) {
            throw error(.unsupported, "legacy storage views (view_metadata) are not supported", at: at)
        }
        let numel = try intArg(t[4], "storage size")
        guard numel >= 0 else { throw error(.malformed, "negative storage size \(numel)", at: at) }
        return StorageRef(key: key, dtype: dtype, elementCount: numel, location: location)
    }

    private mutating func reduce(_ callable: Int, _ argsIndex: Int, at: Int) throws -> Node {
        guard case .global(let m, let n)? = leaf(callable), let interp = Unpickler.interpretation(module: m, name: n) else {
            throw error(.forbidden, "REDUCE of something that is not an allow-listed global", at: at)
        }
        guard let args = tupleItems(argsIndex) else { throw error(.malformed, "REDUCE arguments of \(m).\(n) are not a tuple", at: at) }
        switch interp {
        case .orderedDict:
            guard args.isEmpty else { throw error(.unsupported, "OrderedDict with constructor arguments", at: at) }
            return .dict([])
        case .rebuildTensor:
            guard args.count >= 4, case .storage(let s)? = leaf(args[0]) else {
                throw error(.malformed, "\(n) needs (storage, offset, size, stride, ...)", at: at)
            }
            let offset = try intArg(args[1], "tensor storage offset")
            let shape = try intTuple(args[2], "tensor size")
            let stride = try intTuple(args[3], "tensor stride")
            guard shape.count == stride.count else {
                throw error(.malformed, "tensor has \(shape.count) sizes but \(stride.count) strides", at: at)
            }
            return .leaf(.tensor(TensorRef(storage: s, offset: offset, shape: shape, stride: stride)))
        case .rebuildParameter:
            guard let first = args.first, case .tensor? = leaf(first) else {
                throw error(.malformed, "\(n) needs a tensor as first argument", at: at)
            }
            return nodes[first]
        case .set:
            if args.isEmpty { return .list([]) }
            guard args.count == 1, case .list(let items) = nodes[args[0]] else {
                throw error(.malformed, "\(m).\(n) needs one list argument", at: at)
            }
            return .list(items)
        case .codecsEncode:
            guard args.count == 2, case .string(let s)? = leaf(args[0]), case .string(let enc)? = leaf(args[1]),
                  enc == "latin1" || enc == "latin-1" else {
                throw error(.unsupported, "_codecs.encode is only interpreted for (str, 'latin1')", at: at)
            }
            var out: [UInt8] = []
            for u in s.unicodeScalars {
                guard u.value < 256 else { throw error(.malformed, "latin1 string holds U+\(String(u.value, radix: 16))", at: at) }
                out.append(UInt8(u.value))
            }
            return .leaf(.bytes(out))
        case .inertObject:
            return .object(type: "\(m).\(n)", args: args, state: nil)
        case .storageType, .dtype:
            throw error(.forbidden, "global '\(m).\(n)' may not be called", at: at)
        }
    }

    private mutating func newObject(_ cls: Int, args: Int, at: Int) throws -> Node {
        guard case .global(let m, let n)? = leaf(cls), case .inertObject? = Unpickler.interpretation(module: m, name: n) else {
            throw error(.forbidden, "NEWOBJ of a class that is not an allow-listed plain-data class", at: at)
        }
        return .object(type: "\(m).\(n)", args: tupleItems(args) ?? [args], state: nil)
    }

    /// Arena → tree, with a depth limit (hostile nesting) and a node budget (hostile sharing: a DAG whose
    /// unfolding is exponential).
    private func build(_ i: Int, depth: Int, budget: inout Int) throws -> PickleValue {
        budget -= 1
        guard budget >= 0 else { throw error(.malformed, "value graph unfolds to too many nodes (shared references)") }
        guard depth <= Unpickler.maxDepth else { throw error(.malformed, "values nested deeper than \(Unpickler.maxDepth) levels") }
        switch nodes[i] {
        case .leaf(let v): return v
        case .list(let items): return .list(try items.map { try build($0, depth: depth + 1, budget: &budget) })
        case .tuple(let items): return .tuple(try items.map { try build($0, depth: depth + 1, budget: &budget) })
        case .dict(let items):
            return .dict(try items.map { (key: try build($0.0, depth: depth + 1, budget: &budget),
                                          value: try build($0.1, depth: depth + 1, budget: &budget)) })
        case .object(let t, let args, let state):
            if t == "set" { return .list(try args.map { try build($0, depth: depth + 1, budget: &budget) }) }
            return .object(type: t, args: try args.map { try build($0, depth: depth + 1, budget: &budget) },
                           state: try state.map { try build($0, depth: depth + 1, budget: &budget) })
        }
    }
}
