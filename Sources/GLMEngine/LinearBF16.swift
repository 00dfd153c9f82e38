import CGLMKernels

extension Tape {
    /// bf16 mixed-precision `linear` (`compute == .bfloat16`): y = x·Wᵀ + b with x and W rounded to bf16,
    /// fp32 accumulation and output; the bias add stays fp32. Backward: dx = bf16(dy)·bf16(W) and
    /// dW += bf16(dy)ᵀ·bf16(x), fp32 accumulation into fp32 gradients; db = Σ dy in fp32.
    ///
    /// Bytes: a Parameter weight is converted once per version (`Parameter.bfloat16Value`), not per product;
    /// x is converted once and its bf16 copy (half of x's bytes) is what backward reads for dW; dy is
    /// converted once and feeds both backward products. All three products are oneDNN bf16 matmuls with
    /// transposes as strides (no transposed copies).
    func linearBFloat16(_ x: Variable, weight: Variable, bias: Variable?, into y: Tensor, m: Int, n: Int, k: Int,
                        started: Profiler.Token?) throws -> Variable {
        let op = "linear"
        let xb = x.value.toBFloat16()
        let wb = Self.bfloat16(weight)
        let dense = { (rows: Int, cols: Int, transposed: Bool) in
            MatrixStrides(batch: 0, rows: rows, cols: cols, transposed: transposed)
        }
        try stridedProduct(batch: 1, m: m, n: n, k: k, a: (UnsafeRawPointer(xb.bf16), dense(m, k, false)),
                           b: (UnsafeRawPointer(wb.bf16), dense(n, k, true)), c: (y.floats, dense(m, n, false)),
                           beta: 0, input: .bfloat16)
        if let bias { glmk_bias_add(y.floats, bias.value.floats, m, n) }
        let flops = 2 * Double(m) * Double(n) * Double(k)
        let products = Double((x.requiresGrad ? 1 : 0) + (weight.requiresGrad ? 1 : 0))
        return output(y, op, inputs: [x, weight, bias], started: started, detail: "\(m)×\(k)·(\(n)×\(k))ᵀ bf16",
                      work: OpWork(flops: flops), backwardWork: OpWork(flops: products * flops)) { [unowned self] _, dy in
            let dyb = x.requiresGrad || weight.requiresGrad ? dy.toBFloat16() : nil
            if let dyb, x.requiresGrad {  // dx (m, k) = dy (m, n) · W (n, k)
                let (gx, acc) = x.gradTarget()
                try self.stridedProduct(batch: 1, m: m, n: k, k: n, a: (UnsafeRawPointer(dyb.bf16), dense(m, n, false)),
                                        b: (UnsafeRawPointer(wb.bf16), dense(n, k, false)),
                                        c: (gx.floats, dense(m, k, false)), beta: acc ? 1 : 0, input: .bfloat16)
            }
            if let dyb, weight.requiresGrad {  // dW (n, k) = dyᵀ (n, m) · x (m, k)
                let (gw, acc) = weight.gradTarget()
                try self.stridedProduct(batch: 1, m: n, n: k, k: m, a: (UnsafeRawPointer(dyb.bf16), dense(m, n, true)),
                                        b: (UnsafeRawPointer(xb.bf16), dense(m, k, false)),
                                        c: (gw.floats, dense(n, k, false)), beta: acc ? 1 : 0, input: .bfloat16)
            }
            if let bias, bias.requiresGrad {
                glmk_bias_backward(bias.zeroedGrad().floats, dy.floats, m, n)
            }
        }
    }

    /// A variable's value in bf16: a Parameter's cached per-version copy, else a fresh conversion.
    static func bfloat16(_ v: Variable) -> Tensor {
        (v as? Parameter)?.bfloat16Value() ?? v.value.toBFloat16()
    }
}
