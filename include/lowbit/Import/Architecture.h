//===- Architecture.h - what a decoder model computes -----------*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The second part of the model importer (docs/Import.md): a decoder's
// hyper-parameters and its recipe (which norm, projections, RoPE style,
// attention and MLP each layer uses, whether the head is tied to the
// embedding), read from GGUF metadata or a Hugging Face config.json. Each
// architecture the importer knows is one description in Architecture.cpp;
// metadata that would change what the model computes and that the
// importer does not implement is an error naming the key.
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_IMPORT_ARCHITECTURE_H
#define LOWBIT_IMPORT_ARCHITECTURE_H

#include "lowbit/Import/WeightSource.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::lowbit::importer {

/// How a layer normalizes its input.
enum class NormKind {
  /// x / sqrt(mean(x^2) + eps) * g.
  RMSNorm,
  /// x / sqrt(mean(x^2) + eps) * (1 + g): Gemma as Hugging Face stores it
  /// (llama.cpp's converter adds the 1 to the GGUF weights).
  RMSNormPlusOne,
};

/// Which two elements of a head RoPE rotates together.
enum class RopeStyle {
  /// (2i, 2i + 1): llama.cpp's llama weights (its converter permutes Q and
  /// K to this order).
  Interleaved,
  /// (i, i + head size / 2): Hugging Face's rotate_half (GPT-NeoX).
  Halves,
};

/// How a layer attends.
enum class AttentionKind {
  /// Grouped-query attention (heads a multiple of KV heads), causal over
  /// the whole cache.
  GroupedQuery,
};

/// A layer's feed-forward block.
enum class MLPKind {
  /// down(silu(gate(x)) * up(x)).
  SwiGLU,
  /// SwiGLU with gate and up in one matrix (blk.N.ffn_up [2 x FFN, D],
  /// gate the first half): Phi-3.
  FusedSwiGLU,
  /// down(gelu_tanh(gate(x)) * up(x)): Gemma.
  GeGLU,
};

/// What one decoder layer computes: x += attention(rope(q, k), v) of the
/// normed x, then x += mlp of the normed x. The head size need not be the
/// width / heads (Qwen3): Q is [heads x head size], attn_output maps that
/// back to the width. Weights by GGUF names
/// (blk.N.attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm,
/// ffn_gate, ffn_up, ffn_down).
struct LayerRecipe {
  NormKind norm = NormKind::RMSNorm;
  RopeStyle rope = RopeStyle::Interleaved;
  AttentionKind attention = AttentionKind::GroupedQuery;
  MLPKind mlp = MLPKind::SwiGLU;
  /// The Q, K and V projections add a bias (blk.N.attn_{q,k,v}.bias):
  /// Qwen2.
  bool qkvBias = false;
  /// Q and K are normalized per head (`norm`, weights
  /// blk.N.attn_{q,k}_norm.weight of the head size) before RoPE: Qwen3.
  bool qkNorm = false;
  /// Q, K and V come from one matrix (blk.N.attn_qkv, rows Q then K then
  /// V): Phi-3.
  bool fusedQKV = false;
  /// The attention and MLP outputs are normalized (`norm`, weights
  /// blk.N.post_attention_norm and blk.N.post_ffw_norm) before their
  /// residual adds: Gemma 3.
  bool postNorms = false;
  /// Attends only the last Architecture::slidingWindow positions.
  bool windowed = false;
  /// A local layer: RoPE with the local base
  /// (HyperParameters::ropeThetaLocal) and no scaling: Gemma 3.
  bool local = false;
  /// Q is multiplied by the attention scale before Q K^T rather than the
  /// scores after it, as llama.cpp's graph for the architecture does (Gemma
  /// 3, Phi-3): the same in f32, but an f16 KV cache rounds the scaled Q.
  bool scaleQueriesFirst = false;
};

/// How RoPE's frequencies are scaled for contexts longer than the model
/// was trained on (docs/Import.md, "RoPE scaling").
struct RopeScaling {
  enum class Kind {
    None,
    /// Every frequency divided by `factor` (position interpolation).
    Linear,
    /// Llama 3: low frequencies divided by `factor`, high ones kept, a
    /// smooth blend between (Hugging Face's `rope_type: llama3`).
    Llama3,
    /// YaRN as Hugging Face and llama.cpp compute it: a ramp between
    /// interpolated and extrapolated frequencies, and cos/sin scaled by an
    /// attention factor.
    YaRN,
  };
  Kind kind = Kind::None;
  double factor = 1;
  /// The context length the model was trained on before scaling (Llama 3,
  /// YaRN; 0: the model's context length).
  int64_t originalContext = 0;
  /// Llama 3.
  double lowFreqFactor = 1, highFreqFactor = 4;
  /// YaRN.
  double betaFast = 32, betaSlow = 1;
  /// YaRN: the attention factor if given (< 0: derived from factor,
  /// mscale and mscaleAllDim).
  double attentionFactor = -1, mscale = 0, mscaleAllDim = 0;
  bool truncate = true;
  /// YaRN from GGUF: llama.cpp's ramp, whose width is at least 0.001
  /// (Hugging Face's adds 0.001 only to an empty one).
  bool ggmlRamp = false;
  /// GGUF `rope.scaling.attn_factor` (with YaRN): cos and sin are also
  /// multiplied by this.
  double magnitude = 1;
  /// GGUF `rope_freqs.weight` (llama.cpp's converter stores Llama 3's
  /// scaling this way): frequency i is divided by factor i.
  std::vector<float> freqFactors;
};

/// The numbers that size a decoder.
struct HyperParameters {
  int64_t dim = 0, layers = 0, heads = 0, kvHeads = 0, headDim = 0;
  int64_t ffn = 0, vocab = 0;
  /// The model's context length (tokens).
  int64_t contextLength = 0;
  double ropeTheta = 10000.0, rmsEps = 1e-5;
  RopeScaling ropeScaling;
  /// The RoPE base of local layers (LayerRecipe::local).
  double ropeThetaLocal = 10000.0;
  /// What scores are scaled by before the softmax (0: 1 / sqrt(headDim)).
  double attentionScale = 0;
  /// What the embedding row is multiplied by (Gemma: sqrt(dim)).
  double embeddingScale = 1;
};

/// RoPE's angular frequencies: pair i of a head turns by position x
/// result[i] (theta^(-2i/headDim), then scaled as `hp.ropeScaling` says).
std::vector<double> ropeFrequencies(const HyperParameters &hp);

/// What RoPE multiplies its cos and sin by (YaRN's attention factor; 1
/// otherwise).
double ropeAttentionFactor(const HyperParameters &hp);

/// A decoder: its hyper-parameters and recipe.
struct Architecture {
  /// The description's name ("llama").
  std::string name;
  HyperParameters hp;
  /// One recipe per layer.
  std::vector<LayerRecipe> layers;
  /// The norm before the head (output_norm).
  NormKind finalNorm = NormKind::RMSNorm;
  /// The head is the embedding table (no output.weight).
  bool tiedHead = false;
  /// Attention window in tokens (0: none) of the `windowed` layers (all
  /// layers when the description marks none), and the metadata key that
  /// set it.
  int64_t slidingWindow = 0;
  std::string slidingWindowKey;
};

/// Reads the architecture of `source` from its metadata (GGUF
/// `general.architecture` or config.json `architectures`), renames a
/// safetensors file's weights to GGUF's names, and checks that the
/// hyper-parameters are consistent. `error` names the file and, for
/// unsupported metadata, the key.
bool describeArchitecture(WeightSource &source, Architecture &arch,
                          std::string &error);

} // namespace mlir::lowbit::importer

#endif // LOWBIT_IMPORT_ARCHITECTURE_H
