# SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
#
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
# RUN: lowbit-compile %t/f32.gguf --compile-to=input | FileCheck %s
# RUN: lowbit-compile %t/q.gguf --compile-to=input | FileCheck %s --check-prefix=GGUF
# RUN: lowbit-compile %t/hf/model.safetensors --compile-to=input | FileCheck %s --check-prefix=HF
# RUN: lowbit-compile %t/f32.gguf --compile-to=input --kv-cache=int8 | FileCheck %s --check-prefix=INT8
# RUN: lowbit-compile %t/f32.gguf --compile-to=input --kv-cache=int4 --max-seq=32 | FileCheck %s --check-prefix=KIVI
# RUN: lowbit-compile %t/f32.gguf --compile-to=input --prefill=4 | FileCheck %s --check-prefix=PREFILL
# RUN: lowbit-compile %t/f32.gguf --compile-to=input --kv-cache=int4 --max-seq=32 --prefill=4 | FileCheck %s --check-prefix=KIVIPF
# RUN: not lowbit-compile %t/f32.gguf --compile-to=input --prefill=9 2>&1 | FileCheck %s --check-prefix=BADCHUNK
#
# The importer's decode step (docs/Import.md) for a tiny synthetic Llama
# (width 32, 2 heads over 1 KV head of size 16, FFN 32, vocabulary 16, one
# layer, context 8): the ops, their order and their shapes, which
# lowbit-compile's pipeline matches (f32 matmul sites with transposed-B
# maps, kept GGUF blocks, the q8_0 embedding row decode, the cache parts).
# The numerics are checked by test/Compile/llama.py and kv-cache.py.

# CHECK-DAG: #[[$MK:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
# CHECK-DAG: #[[$NK:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
# CHECK-DAG: #[[$MN:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
# CHECK-DAG: #[[$GRD:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d3)>
# CHECK-DAG: #[[$GRT:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
# CHECK-DAG: #[[$KDT:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (0, d2, d3)>
# CHECK-DAG: #[[$TGD:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (d2, 0, d3)>
# CHECK-LABEL: func.func @decode(
# CHECK-SAME: %[[TOKEN:[^:]+]]: tensor<1xi32> {lowbit.range = array<i64: 0, 15>},
# CHECK-SAME: %[[POS:[^:]+]]: tensor<1xi32> {lowbit.range = array<i64: 0, 7>},
# CHECK-SAME: %[[KC:[^:]+]]: tensor<1x8x1x16xf32>, %[[VC:[^:]+]]: tensor<1x8x1x16xf32>)
# CHECK-SAME: -> (tensor<1x16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>)
# The position, clamped to the cache.
# CHECK: %[[LAST:.*]] = arith.constant 15 : i32
# CHECK: %[[P:.*]] = tensor.extract %[[POS]]
# CHECK: %[[P1:.*]] = arith.maxsi %[[P]]
# CHECK: %[[P2:.*]] = arith.minsi %[[P1]]
# CHECK: %[[PI:.*]] = arith.index_cast %[[P2]] : i32 to index
# RoPE's cos and sin of p * theta^(-2i/d) for the step's position p (a
# row per token), once per step.
# CHECK: %[[FREQS:.*]] = arith.constant dense_resource<rope_freqs> : tensor<8xf32>
# CHECK: %[[COSSIN:.*]] = linalg.generic
# CHECK: %[[ROWP:.*]] = arith.addi %[[PI]]
# CHECK: %[[ROWP32:.*]] = arith.index_cast %[[ROWP]] : index to i32
# CHECK: %[[PF:.*]] = arith.sitofp %[[ROWP32]] : i32 to f32
# CHECK: tensor.extract %[[FREQS]]
# CHECK: arith.mulf %[[PF]]
# CHECK: math.cos
# CHECK: math.sin
# CHECK: } -> tensor<1x2x8xf32>
# The token's embedding row, the token clamped to the vocabulary.
# CHECK: %[[EMB:.*]] = arith.constant dense_resource<token_embd.weight> : tensor<16x32xf32>
# CHECK: %[[X:.*]] = linalg.generic
# CHECK: %[[T:.*]] = tensor.extract %[[TOKEN]]
# CHECK: %[[T1:.*]] = arith.maxsi %[[T]]
# CHECK: %[[T2:.*]] = arith.minsi %[[T1]], %[[LAST]]
# CHECK: %[[TI:.*]] = arith.index_cast %[[T2]] : i32 to index
# CHECK: tensor.extract %[[EMB]][%[[TI]],
# CHECK: } -> tensor<1x32xf32>
# RMSNorm.
# CHECK: %[[G:.*]] = arith.constant dense_resource<blk.0.attn_norm.weight> : tensor<32xf32>
# CHECK: %[[SS:.*]] = linalg.generic {{.*}}["parallel", "reduction"]} ins(%[[X]] : tensor<1x32xf32>)
# CHECK: %[[H:.*]] = linalg.generic {{.*}} ins(%[[X]], %[[SS]], %[[G]] :
# CHECK: math.rsqrt
# Q, K and V: matmul sites, B transposed, into a zero fill.
# CHECK: %[[WQ:.*]] = arith.constant dense_resource<blk.0.attn_q.weight> : tensor<32x32xf32>
# CHECK: %[[QZ:.*]] = linalg.fill
# CHECK: %[[Q:.*]] = linalg.matmul indexing_maps = [#[[$MK]], #[[$NK]], #[[$MN]]] ins(%[[H]], %[[WQ]] : tensor<1x32xf32>, tensor<32x32xf32>) outs(%[[QZ]] : tensor<1x32xf32>)
# CHECK: %[[WK:.*]] = arith.constant dense_resource<blk.0.attn_k.weight> : tensor<16x32xf32>
# CHECK: %[[K:.*]] = linalg.matmul {{.*}}ins(%[[H]], %[[WK]] :
# CHECK: %[[WV:.*]] = arith.constant dense_resource<blk.0.attn_v.weight> : tensor<16x32xf32>
# CHECK: %[[V:.*]] = linalg.matmul {{.*}}ins(%[[H]], %[[WV]] :
# RoPE on interleaved pairs (GGUF's order): the partner of j is j xor 1.
# CHECK: %[[Q3:.*]] = tensor.expand_shape %[[Q]] {{\[\[}}0], [1, 2]] output_shape [1, 2, 16]
# CHECK: %[[QR:.*]] = linalg.generic
# CHECK: arith.divui
# CHECK: arith.xori
# CHECK: tensor.extract %[[Q3]]
# CHECK: tensor.extract %[[COSSIN]]
# CHECK: %[[K3:.*]] = tensor.expand_shape %[[K]]
# CHECK: %[[KR:.*]] = linalg.generic
# CHECK: tensor.extract %[[K3]]
# CHECK: %[[V3:.*]] = tensor.expand_shape %[[V]]
# The cache: this token's keys and values written at [layer, pos].
# CHECK: %[[KW:.*]] = tensor.insert_slice %[[KR]] into %[[KC]][0, %[[PI]], 0, 0] [1, 1, 1, 16] [1, 1, 1, 1]
# CHECK: %[[VW:.*]] = tensor.insert_slice %[[V3]] into %[[VC]][0, %[[PI]], 0, 0]
# Attention: q as [rows, KV heads, group, head size]; each KV head (and
# block of rows) on a thread (scf.forall), over the cache's blocks (of 8
# positions here) up to pos's, no further: scores with the positions
# after pos masked, softmax over the blocks read, the values' weighted sum
# a block at a time.
# CHECK: %[[QG:.*]] = tensor.expand_shape %[[QR]] {{\[\[}}0], [1, 2], [3]] output_shape [1, 1, 2, 16]
# CHECK: %[[HEADS:.*]] = scf.forall (%[[H:.*]], %[[RB:.*]]) in (1, 1) shared_outs(%[[OUT:.*]] = %{{.*}}) -> (tensor<1x1x1x2x16xf32>) {
# CHECK: %[[QH:.*]] = tensor.extract_slice %[[QG]][%[[RB]], %[[H]], 0, 0] [1, 1, 2, 16] [1, 1, 1, 1]
# CHECK: %[[BS:.*]] = arith.constant 8 : index
# CHECK: %[[BLK:.*]] = arith.divui %[[PI]], %[[BS]] : index
# CHECK: %[[NB:.*]] = arith.addi %[[BLK]], %{{.*}} : index
# CHECK: %[[END:.*]] = arith.muli %[[NB]], %[[BS]] : index
# CHECK: %[[S:.*]] = scf.for %[[T0:.*]] = %{{.*}} to %[[END]] step %[[BS]] iter_args(%{{.*}}) -> (tensor<1x2x?xf32>) {
# CHECK: %[[KB:.*]] = tensor.extract_slice %[[KW]][0, %[[T0]], %[[H]], 0] [1, 8, 1, 16] [1, 1, 1, 1] : tensor<1x8x1x16xf32> to tensor<8x1x16xf32>
# The block's keys as [1, head size, position] (a linalg.transpose, which
# fusion leaves apart), so that the scores' loop runs over positions
# innermost, each score's sum over the head in order.
# CHECK: %[[KEYS:.*]] = linalg.transpose ins(%[[KB]] : tensor<8x1x16xf32>) outs(%{{.*}} : tensor<1x16x8xf32>) permutation = [1, 2, 0]
# CHECK: linalg.generic {indexing_maps = [#[[$GRT]], #[[$KDT]], #[[$GRD]]], iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%[[QH]], %[[KEYS]] :
# CHECK: %[[ROW:.*]] = linalg.index 0
# CHECK: %[[AT:.*]] = arith.addi %[[PI]], %[[ROW]]
# CHECK: arith.cmpi ugt, %{{.*}}, %[[AT]]
# CHECK: tensor.insert_slice
# CHECK: scf.yield
# CHECK: %[[MAX:.*]] = linalg.generic {{.*}} ins(%[[S]] :
# CHECK: arith.maximumf
# CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[MAX]] :
# CHECK: math.exp
# CHECK: %[[SUM:.*]] = linalg.generic {{.*}} ins(%[[E]] :
# CHECK: %[[O:.*]] = scf.for %[[T1:.*]] = %{{.*}} to %[[END]] step %[[BS]]
# CHECK: %[[VALUES:.*]] = tensor.extract_slice %[[VW]][0, %[[T1]], %[[H]], 0] [1, 8, 1, 16]
# CHECK: %[[PB:.*]] = tensor.extract_slice %[[E]]
# CHECK: linalg.generic {indexing_maps = [#[[$GRT]], #[[$TGD]], #[[$GRD]]], iterator_types = ["parallel", "parallel", "reduction", "parallel"]} ins(%[[PB]], %[[VALUES]] :
# CHECK: scf.yield
# CHECK: %[[ON:.*]] = linalg.generic {{.*}} ins(%[[O]], %[[SUM]] :
# CHECK: arith.divf
# CHECK: tensor.parallel_insert_slice %[[ON]] into %[[OUT]][%[[H]], %[[RB]], 0, 0, 0] [1, 1, 1, 2, 16] [1, 1, 1, 1, 1]
# CHECK: %[[OF:.*]] = tensor.collapse_shape %[[HEADS]]
# CHECK: %[[O2:.*]] = tensor.expand_shape %[[OF]]
# Output projection, residual.
# CHECK: %[[WO:.*]] = arith.constant dense_resource<blk.0.attn_output.weight>
# CHECK: %[[ATT:.*]] = linalg.matmul {{.*}}ins(%[[O2]], %[[WO]] :
# CHECK: %[[X1:.*]] = linalg.add ins(%[[X]], %[[ATT]] :
# SwiGLU MLP, residual.
# CHECK: dense_resource<blk.0.ffn_norm.weight>
# CHECK: %[[H2:.*]] = linalg.generic {{.*}} ins(%[[X1]],
# CHECK: %[[WG:.*]] = arith.constant dense_resource<blk.0.ffn_gate.weight>
# CHECK: %[[GATE:.*]] = linalg.matmul {{.*}}ins(%[[H2]], %[[WG]] :
# CHECK: %[[WU:.*]] = arith.constant dense_resource<blk.0.ffn_up.weight>
# CHECK: %[[UP:.*]] = linalg.matmul {{.*}}ins(%[[H2]], %[[WU]] :
# CHECK: %[[ACT:.*]] = linalg.generic {{.*}} ins(%[[GATE]], %[[UP]] :
# CHECK: arith.negf
# CHECK: math.exp
# CHECK: %[[WD:.*]] = arith.constant dense_resource<blk.0.ffn_down.weight>
# CHECK: %[[DOWN:.*]] = linalg.matmul {{.*}}ins(%[[ACT]], %[[WD]] :
# CHECK: %[[X2:.*]] = linalg.add ins(%[[X1]], %[[DOWN]] :
# The final norm and the head.
# CHECK: dense_resource<output_norm.weight>
# CHECK: %[[XN:.*]] = linalg.generic {{.*}} ins(%[[X2]],
# CHECK: %[[WH:.*]] = arith.constant dense_resource<output.weight> : tensor<16x32xf32>
# CHECK: %[[LOGITS:.*]] = linalg.matmul {{.*}}ins(%[[XN]], %[[WH]] :
# CHECK: return %[[LOGITS]], %[[KW]], %[[VW]] : tensor<1x16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>

# A GGUF file with a q8_0 embedding and a tied head, q4_0 and q4_1 layers,
# kept as stored.
# GGUF-LABEL: func.func @decode(
# GGUF: %[[TABLE:.*]] = arith.constant dense_resource<token_embd.weight.blocks> : tensor<16x34xi8>
# GGUF: %[[ROWF:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<1x1x32xf32>)
# GGUF: tensor.extract %[[TABLE]]
# GGUF: arith.bitcast %{{.*}} : i16 to f16
# GGUF: arith.sitofp %{{.*}} : i8 to f32
# GGUF: tensor.collapse_shape %[[ROWF]]
# q4_0: inputs quantized to int8 per block of 32 with f16 scales (llama.cpp's
# q8_0 activations).
# GGUF: %[[WQ:.*]] = lowbit.constant codes(dense_resource<blk.0.attn_q.weight.blocks> : tensor<32x18xi8>) : <32x32xgguf<q4_0>>
# GGUF-NEXT: %[[XQ:.*]] = lowbit.quantize %{{.*}} : tensor<1x32xf32> -> <1x32xi8, per_group<[1 : 32]>, scale = f16>
# GGUF-NEXT: lowbit.qmatmul %[[XQ]], %[[WQ]] {transpose_b} : !lowbit.qtensor<1x32xi8, per_group<[1 : 32]>, scale = f16>, !lowbit.qtensor<32x32xgguf<q4_0>> -> tensor<1x32xf32>
# q4_1: int8 inputs per block of 32 too (llama.cpp's q8_1).
# GGUF: %[[WU:.*]] = lowbit.constant codes(dense_resource<blk.0.ffn_up.weight.blocks> : tensor<32x20xi8>) : <32x32xgguf<q4_1>>
# GGUF-NEXT: %[[XU:.*]] = lowbit.quantize %{{.*}} : tensor<1x32xf32> -> <1x32xi8, per_group<[1 : 32]>, scale = f16>
# GGUF-NEXT: lowbit.qmatmul %[[XU]], %[[WU]] {transpose_b} : !lowbit.qtensor<1x32xi8, per_group<[1 : 32]>, scale = f16>, !lowbit.qtensor<32x32xgguf<q4_1>> -> tensor<1x32xf32>
# The tied head reads the embedding's blocks.
# GGUF: %[[WH:.*]] = lowbit.constant codes(dense_resource<token_embd.weight.blocks> : tensor<16x34xi8>) : <16x32xgguf<q8_0>>
# GGUF-NEXT: %[[XH:.*]] = lowbit.quantize
# GGUF-NEXT: %[[LOGITS:.*]] = lowbit.qmatmul %[[XH]], %[[WH]] {transpose_b}
# GGUF-NEXT: return %[[LOGITS]],

# Hugging Face: RoPE on halves (rotate_half), the tied head an f32 matmul
# of the embedding.
# HF-LABEL: func.func @decode(
# HF: %[[HALF:.*]] = arith.constant 8 : index
# HF: %[[EMB:.*]] = arith.constant dense_resource<token_embd.weight> : tensor<16x32xf32>
# HF: %[[QR:.*]] = linalg.generic
# HF: %[[J:.*]] = linalg.index 2 : index
# HF-NEXT: %[[FIRST:.*]] = arith.cmpi ult, %[[J]], %[[HALF]] : index
# HF-NEXT: arith.remui %[[J]], %[[HALF]] : index
# HF-NEXT: %[[UP:.*]] = arith.addi %[[J]], %[[HALF]] : index
# HF-NEXT: %[[DOWN:.*]] = arith.subi %[[J]], %[[HALF]] : index
# HF-NEXT: arith.select %[[FIRST]], %[[UP]], %[[DOWN]] : index
# HF: %[[HEAD:.*]] = arith.constant dense_resource<token_embd.weight> : tensor<16x32xf32>
# HF: %[[LOGITS:.*]] = linalg.matmul {{.*}}ins(%{{.*}}, %[[HEAD]] : tensor<1x32xf32>, tensor<16x32xf32>)
# HF: return %[[LOGITS]],

# int8 KV cache: each token's keys and values quantized per head, kept as
# codes and scales.
# INT8-LABEL: func.func @decode(
# INT8-SAME: %[[KC:[^:]+]]: tensor<1x8x1x16xi8>, %[[KS:[^:]+]]: tensor<1x8x1x1xf32>, %[[VC:[^:]+]]: tensor<1x8x1x16xi8>, %[[VS:[^:]+]]: tensor<1x8x1x1xf32>)
# INT8: %[[PI:.*]] = arith.index_cast %{{.*}} : i32 to index
# INT8: %[[Q:.*]] = lowbit.quantize %{{.*}} : tensor<1x1x16xf32> -> <1x1x16xi8, per_group<[2 : 16]>>
# INT8-NEXT: %[[PARTS:.*]]:2 = lowbit.unpack %[[Q]] : <1x1x16xi8, per_group<[2 : 16]>> -> tensor<1x1x16xi8>, tensor<1x1x1xf32>
# INT8-NEXT: %[[KC1:.*]] = tensor.insert_slice %[[PARTS]]#0 into %[[KC]][0, %[[PI]], 0, 0] [1, 1, 1, 16]
# INT8-NEXT: %[[KS1:.*]] = tensor.insert_slice %[[PARTS]]#1 into %[[KS]][0, %[[PI]], 0, 0] [1, 1, 1, 1]
# INT8: lowbit.unpack
# INT8-NEXT: %[[VC1:.*]] = tensor.insert_slice %{{.*}}#0 into %[[VC]]
# INT8-NEXT: %[[VS1:.*]] = tensor.insert_slice %{{.*}}#1 into %[[VS]]
# Each block of keys read as stored and dequantized in the loop.
# INT8: scf.for %[[T0:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
# INT8-NEXT: %[[CODES:.*]] = tensor.extract_slice %[[KC1]][0, %[[T0]], %{{.*}}, 0] [1, 8, 1, 16]
# INT8-NEXT: %[[SCALES:.*]] = tensor.extract_slice %[[KS1]][0, %[[T0]], %{{.*}}, 0] [1, 8, 1, 1]
# INT8-NEXT: %[[PK:.*]] = lowbit.pack %[[CODES]], %[[SCALES]] : tensor<8x1x16xi8>, tensor<8x1x1xf32> -> <8x1x16xi8, per_group<[2 : 16]>>
# INT8-NEXT: %[[KEYS:.*]] = lowbit.dequantize %[[PK]] : <8x1x16xi8, per_group<[2 : 16]>> -> tensor<8x1x16xf32>
# INT8: linalg.transpose ins(%[[KEYS]] :
# INT8: return %{{.*}}, %[[KC1]], %[[KS1]], %[[VC1]], %[[VS1]] :

# KIVI int4 cache: keys per channel over groups of 32 tokens, values per
# token, the current group in an f32 window.
# KIVI-LABEL: func.func @decode(
# KIVI-SAME: %[[KC:[^:]+]]: tensor<1x32x1x8xi8>, %[[KS:[^:]+]]: tensor<1x1x1x16xf32>, %[[KZ:[^:]+]]: tensor<1x1x1x16xi32>, %[[KWIN:[^:]+]]: tensor<1x32x1x16xf32>,
# KIVI-SAME: tensor<1x32x1x8xi8>, %{{.*}}: tensor<1x32x1x1xf32>, %{{.*}}: tensor<1x32x1x1xi32>, %{{.*}}: tensor<1x32x1x16xf32>)
# KIVI: %[[PI:.*]] = arith.index_cast %{{.*}} : i32 to index
# KIVI: %[[GRP:.*]] = arith.constant 32 : index
# KIVI-NEXT: %[[GI:.*]] = arith.divui %[[PI]], %[[GRP]] : index
# KIVI-NEXT: %[[SLOT:.*]] = arith.remui %[[PI]], %[[GRP]] : index
# KIVI-NEXT: %[[G0:.*]] = arith.muli %[[GI]], %[[GRP]] : index
# KIVI: %[[W1:.*]] = tensor.insert_slice %{{.*}} into %[[KWIN]][0, %[[SLOT]], 0, 0] [1, 1, 1, 16]
# KIVI-NEXT: %[[WIN:.*]] = tensor.extract_slice %[[W1]][0, 0, 0, 0] [1, 32, 1, 16] [1, 1, 1, 1] : tensor<1x32x1x16xf32> to tensor<32x1x16xf32>
# KIVI-NEXT: %[[Q:.*]] = lowbit.quantize %[[WIN]] : tensor<32x1x16xf32> -> <32x1x16xi4, per_group<[0 : 32]>, asymmetric>
# KIVI-NEXT: %[[PARTS:.*]]:3 = lowbit.unpack %[[Q]]
# KIVI-NEXT: %[[KC1:.*]] = tensor.insert_slice %[[PARTS]]#0 into %[[KC]][0, %[[G0]], 0, 0] [1, 32, 1, 8]
# KIVI-NEXT: %[[KS1:.*]] = tensor.insert_slice %[[PARTS]]#1 into %[[KS]][0, %[[GI]], 0, 0] [1, 1, 1, 16]
# KIVI-NEXT: %[[KZ1:.*]] = tensor.insert_slice %[[PARTS]]#2 into %[[KZ]][0, %[[GI]], 0, 0] [1, 1, 1, 16]
# KIVI: lowbit.quantize %{{.*}} : tensor<32x1x16xf32> -> <32x1x16xi4, per_group<[2 : 16]>, asymmetric>
# A block of keys is one group: its codes and its row of scales and zero
# points dequantized, or the f32 window when it is the current group.
# KIVI: scf.for %[[T0:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args
# KIVI-NEXT: %[[CODES:.*]] = tensor.extract_slice %[[KC1]][0, %[[T0]], %{{.*}}, 0] [1, 32, 1, 8]
# KIVI: %[[ROW:.*]] = arith.divui %[[T0]], %{{.*}} : index
# KIVI-NEXT: %[[SC:.*]] = tensor.extract_slice %[[KS1]][0, %[[ROW]], %{{.*}}, 0] [1, 1, 1, 16]
# KIVI-NEXT: %[[ZP:.*]] = tensor.extract_slice %[[KZ1]][0, %[[ROW]], %{{.*}}, 0] [1, 1, 1, 16]
# KIVI-NEXT: %[[PK:.*]] = lowbit.pack %[[CODES]], %[[SC]], %[[ZP]] : tensor<32x1x8xi8>, tensor<1x1x16xf32>, tensor<1x1x16xi32> -> <32x1x16xi4, per_group<[0 : 32]>, asymmetric>
# KIVI-NEXT: %[[DQ:.*]] = lowbit.dequantize %[[PK]] : {{.*}} -> tensor<32x1x16xf32>
# KIVI-NEXT: %[[WIN2:.*]] = tensor.extract_slice %[[W1]][0, 0, %{{.*}}, 0] [1, 32, 1, 16]
# KIVI-NEXT: %[[CUR:.*]] = arith.cmpi eq, %[[T0]], %[[G0]] : index
# KIVI-NEXT: %[[KEYS:.*]] = arith.select %[[CUR]], %[[WIN2]], %[[DQ]] : tensor<32x1x16xf32>
# KIVI: linalg.transpose ins(%[[KEYS]] :



# A prefill step of 4 tokens (docs/Prefill.md): the same blocks on rows of
# 4, the projections one matmul each, the 4 rows' keys and values written
# at [start, start + 4), then one pass of attention for the 4 rows (row r
# masks the positions after start + r), and the logits of the last row.
# PREFILL-LABEL: func.func @decode(
# PREFILL-LABEL: func.func @prefill_4(
# PREFILL-SAME: %[[TOKENS:[^:]+]]: tensor<4xi32> {lowbit.range = array<i64: 0, 15>},
# PREFILL-SAME: %[[START:[^:]+]]: tensor<1xi32> {lowbit.range = array<i64: 0, 4>},
# PREFILL-SAME: %[[KC:[^:]+]]: tensor<1x8x1x16xf32>, %[[VC:[^:]+]]: tensor<1x8x1x16xf32>)
# PREFILL-SAME: -> (tensor<1x16xf32>, tensor<1x8x1x16xf32>, tensor<1x8x1x16xf32>)
# PREFILL: %[[S:.*]] = tensor.extract %[[START]]
# PREFILL: %[[LASTSTART:.*]] = arith.constant 4 : i32
# PREFILL: %[[S1:.*]] = arith.maxsi %[[S]]
# PREFILL: %[[S2:.*]] = arith.minsi %[[S1]], %[[LASTSTART]]
# PREFILL: %[[SI:.*]] = arith.index_cast %[[S2]] : i32 to index
# PREFILL: } -> tensor<4x2x8xf32>
# PREFILL: tensor.extract %[[TOKENS]]
# PREFILL: } -> tensor<4x32xf32>
# PREFILL: linalg.matmul {{.*}} : tensor<4x32xf32>, tensor<32x32xf32>) outs(%{{.*}} : tensor<4x32xf32>)
# PREFILL: %[[KW:.*]] = tensor.insert_slice %{{.*}} into %[[KC]][0, %[[SI]], 0, 0] [1, 4, 1, 16] [1, 1, 1, 1]
# PREFILL: %[[VW:.*]] = tensor.insert_slice %{{.*}} into %[[VC]][0, %[[SI]], 0, 0] [1, 4, 1, 16] [1, 1, 1, 1]
# PREFILL: %[[HEADS:.*]] = scf.forall (%{{.*}}, %{{.*}}) in (1, 1) shared_outs(%{{.*}} = %{{.*}}) -> (tensor<1x1x4x2x16xf32>) {
# PREFILL: %[[THREE:.*]] = arith.constant 3 : index
# PREFILL: %[[LASTPOS:.*]] = arith.addi %[[SI]], %[[THREE]] : index
# PREFILL: scf.for {{.*}} -> (tensor<4x2x?xf32>) {
# PREFILL: tensor.extract_slice %[[KW]]
# PREFILL: linalg.generic {{.*}} outs(%{{.*}} : tensor<4x2x8xf32>)
# PREFILL: %[[ROW:.*]] = linalg.index 0
# PREFILL: %[[AT:.*]] = arith.addi %[[SI]], %[[ROW]]
# PREFILL: arith.cmpi ugt, %{{.*}}, %[[AT]]
# PREFILL: tensor.extract_slice %[[VW]]
# PREFILL: %[[BYROW:.*]] = linalg.transpose ins(%[[HEADS]] : tensor<1x1x4x2x16xf32>) outs(%{{.*}} : tensor<1x4x1x2x16xf32>) permutation = [1, 2, 0, 3, 4]
# PREFILL: tensor.collapse_shape %[[BYROW]] {{\[\[}}0, 1], [2, 3, 4]] : tensor<1x4x1x2x16xf32> into tensor<4x32xf32>
# PREFILL: %[[LASTROW:.*]] = tensor.extract_slice %{{.*}}[3, 0] [1, 32] [1, 1] : tensor<4x32xf32> to tensor<1x32xf32>
# PREFILL: dense_resource<output_norm.weight>
# PREFILL: linalg.generic {{.*}} ins(%[[LASTROW]],
# PREFILL: return %{{.*}}, %[[KW]], %[[VW]] :

# With a KIVI cache, a prefill step's rows run one at a time, each
# appended and attending as a decode step at its position (a group is
# read from the f32 window until it is complete).
# KIVIPF-LABEL: func.func @prefill_4(
# KIVIPF: scf.for %[[I:.*]] = %{{.*}} to %{{.*}} step %{{.*}} iter_args({{.*}}) -> (tensor<1x32x1x8xi8>, {{.*}}, tensor<4x32xf32>) {
# KIVIPF: %[[POSI:.*]] = arith.addi %{{.*}}, %[[I]] : index
# KIVIPF: arith.divui %[[POSI]]
# KIVIPF: tensor.extract_slice %{{.*}}[%[[I]], 0, 0] [1, 1, 16]
# KIVIPF: lowbit.quantize
# KIVIPF: scf.forall
# KIVIPF: tensor.insert_slice %{{.*}} into %{{.*}}[%[[I]], 0] [1, 32] [1, 1] : tensor<1x32xf32> into tensor<4x32xf32>

# BADCHUNK: error: {{.*}}f32.gguf: prefill chunk 9: a chunk holds 2 tokens to the cache's length (8)

import os
import sys

import gguf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                os.pardir, "Compile", "Inputs"))
import llama_ref as r  # noqa: E402


def main():
    d = sys.argv[1]
    cfg = r.Config(dim=32, layers=1, heads=2, kv_heads=1, ffn=32, vocab=16,
                   ctx=8)
    r.write_gguf(os.path.join(d, "f32.gguf"), cfg, r.make_weights(cfg))
    w = r.make_weights(cfg, seed=1, tied=True)
    q4 = gguf.GGMLQuantizationType.Q4_0
    types = {n: q4 for n in w if n.startswith("blk") and "norm" not in n}
    types["blk.0.ffn_up.weight"] = gguf.GGMLQuantizationType.Q4_1
    types["token_embd.weight"] = gguf.GGMLQuantizationType.Q8_0
    r.write_gguf(os.path.join(d, "q.gguf"), cfg, w, types)
    os.makedirs(os.path.join(d, "hf"))
    r.write_safetensors(os.path.join(d, "hf"), cfg, w)


if __name__ == "__main__":
    main()
