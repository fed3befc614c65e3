//===- CHeader.cpp - the C header and the JSON manifest -------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The text outputs that describe a compiled model: the C header (entry
// points, weights macros, the header-only mmap loader) and the same
// information in JSON (OUT.json) for bindings such as lowbit.compile.
//
//===----------------------------------------------------------------------===//

#include "Engine.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdio>

using namespace mlir;
using namespace mlir::lowbit;
using namespace mlir::lowbit::compiler;

/// A buffer's C element type and shape, as the header's comments show it.
static std::string shapeComment(const BufferSignature &s) {
  std::string out = s.cType;
  for (int64_t d : s.shape)
    out += "[" + std::to_string(d) + "]";
  return out;
}

/// The prefill chunks of an imported model: its entry points
/// prefill_<C>(tokens[C], start[1], cache..., logits) that take what
/// decode(token[1], pos[1], cache..., logits) does after its first two
/// arguments, as the importer makes them (docs/Prefill.md); largest
/// first. Empty for other modules.
static std::vector<std::pair<int64_t, const EntryPoint *>>
prefillChunks(const CompileResult &result, const EntryPoint *&decode) {
  std::vector<std::pair<int64_t, const EntryPoint *>> chunks;
  decode = nullptr;
  for (const EntryPoint &e : result.entryPoints)
    if (e.name == "decode")
      decode = &e;
  auto isStep = [](const EntryPoint &e) {
    return e.args.size() >= 2 && e.args[0].cType == "int32_t" &&
           e.args[0].range && e.args[1].cType == "int32_t" &&
           e.args[1].numElements() == 1 && e.args[1].range &&
           !e.results.empty() && e.tied[0] < 0 && e.results[0].cType == "float";
  };
  if (!decode || !isStep(*decode) || decode->args[0].numElements() != 1)
    return chunks;
  for (const EntryPoint &e : result.entryPoints) {
    llvm::StringRef name = e.name;
    int64_t c = 0;
    if (!name.consume_front("prefill_") || name.getAsInteger(10, c) || c < 2 ||
        !isStep(e) || e.args[0].numElements() != c ||
        e.args.size() != decode->args.size() || e.tied != decode->tied ||
        e.args[0].range != decode->args[0].range ||
        e.results[0].shape != decode->results[0].shape)
      continue;
    bool same = true;
    for (size_t i = 2; i < e.args.size(); ++i)
      same = same && e.args[i].cType == decode->args[i].cType &&
             e.args[i].shape == decode->args[i].shape;
    if (same)
      chunks.push_back({c, &e});
  }
  llvm::sort(chunks,
             [](const auto &x, const auto &y) { return x.first > y.first; });
  return chunks;
}

/// <prefix>_prefill(tokens, n, start, cache..., logits): a prompt of n
/// tokens through the prefill chunks, largest first, then decode steps
/// (docs/Prefill.md).
static void writePrefillDispatch(llvm::raw_ostream &os, const std::string &p,
                                 const CompileResult &result) {
  const EntryPoint *decode;
  auto chunks = prefillChunks(result, decode);
  if (chunks.empty())
    return;
  int64_t maxSeq = decode->args[1].range->second + 1;
  auto [lo, hi] = *decode->args[0].range;
  std::string params, pass;
  for (size_t i = 2; i < decode->args.size(); ++i) {
    params += ", " + std::string(decode->isUpdated(i) ? "" : "const ") +
              decode->args[i].cType + " *arg" + std::to_string(i);
    pass += ", arg" + std::to_string(i);
  }
  for (size_t i = 0; i < decode->results.size(); ++i)
    if (decode->tied[i] < 0) {
      params +=
          ", " + decode->results[i].cType + " *result" + std::to_string(i);
      pass += ", result" + std::to_string(i);
    }
  os << "/* A prompt: tokens[0, n) at positions start, start + 1, ...; the "
        "cache as\n * n decode steps leave it and result0 the last token's "
        "next-token logits.\n * Runs the prefill chunks (";
  for (size_t i = 0; i < chunks.size(); ++i)
    os << (i ? ", " : "") << chunks[i].first;
  os << " tokens), largest first, then\n * decode steps for the rest. 0, "
        "-1 no weights, -2 n < 1, start < 0,\n * start + n > "
     << maxSeq << " or a token outside [" << lo << ", " << hi
     << "] (nothing written). */\n"
     << "static inline int " << p
     << "_prefill(const int32_t *tokens, int32_t n, int32_t start" << params
     << ") {\n"
     << "  int32_t done = 0, i;\n"
     << "  if (n < 1 || start < 0 || n > " << maxSeq << " - start)\n"
     << "    return -2;\n"
     << "  for (i = 0; i < n; ++i)\n"
     << "    if (tokens[i] < " << lo << " || tokens[i] > " << hi << ")\n"
     << "      return -2;\n"
     << "  while (done < n) {\n"
     << "    int32_t pos = start + done, rest = n - done;\n"
     << "    int rc;\n    ";
  for (const auto &[c, e] : chunks)
    os << "if (rest >= " << c << ") {\n"
       << "      rc = " << p << "_" << e->name << "(tokens + done, &pos" << pass
       << ");\n"
       << "      done += " << c << ";\n"
       << "    } else ";
  os << "{\n"
     << "      rc = " << p << "_decode(tokens + done, &pos" << pass << ");\n"
     << "      done += 1;\n"
     << "    }\n"
     << "    if (rc != 0)\n      return rc;\n  }\n  return 0;\n}\n\n";
}

std::string compiler::makeHeader(const CompileOptions &options,
                                 const CompileResult &result) {
  std::string p = options.prefix;
  std::string P = llvm::StringRef(p).upper();
  std::string h;
  llvm::raw_string_ostream os(h);
  os << "/* " << p << ".h: generated by lowbit-compile; do not edit.\n"
     << " *\n"
     << " * Plain C entry points of an ahead-of-time compiled lowbit model.\n"
     << " * Load the weights blob once (" << p
     << "_load_weights maps the file; " << p << "_set_weights takes\n"
     << " * memory you own, 64-byte aligned), then call the entry points\n"
     << " * from any thread. Buffers are dense row-major arrays of the\n"
     << " * shapes below; f16/bf16 elements are passed as their bits.\n"
     << " * Entry points return 0, -1 when no weights are loaded, or -2\n"
     << " * when an argument is outside its range (nothing is written)."
     << (options.target == "nvptx"
             ? "\n *\n * Target nvptx (" + options.sm +
                   "): what the GPU kernels cover runs on the GPU through\n"
                   " * lowbit's runtime, which opens the CUDA driver "
                   "(libcuda.so.1, or\n * $LOWBIT_CUDA_DRIVER) at the "
                   "first call, on device $LOWBIT_CUDA_DEVICE or 0.\n"
                   " * Entry points return -3 when the driver, the device "
                   "or a launch fails\n * (" +
                   p +
                   "_last_error() says why; after a failed launch the "
                   "outputs\n * are undefined). Link: the library "
                   "links lowbit's runtime; an object\n * file needs "
                   "liblowbit_runtime.a -ldl -lstdc++ -lpthread (-lomp "
                   "too when the\n * host code has parallel loops). Calls "
                   "into one model are serialized\n * (its GPU state is "
                   "made at the first call and kept). */\n"
             : std::string(" */\n"))
     << "#ifndef " << P << "_H\n#define " << P << "_H\n\n"
     << "#include <stddef.h>\n#include <stdint.h>\n\n"
     << "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n";
  os << "/* The weights blob this binary was compiled with. */\n"
     << "#define " << P << "_WEIGHTS_SIZE " << result.weights.size() << "ull\n"
     << "#define " << P << "_WEIGHTS_FINGERPRINT 0x";
  os.write_hex(result.fingerprint);
  os << "ull\n\n";
  os << "/* Uses the blob at `data` (" << P
     << "_WEIGHTS_SIZE bytes, 64-byte aligned, kept alive\n"
     << " * by the caller): 0, or -1 null, -2 wrong size, -3 not this "
        "model's\n * blob, -4 misaligned. */\n"
     << "int " << p << "_set_weights(const void *data, size_t size);\n\n";
  if (result.needsOpenMP)
    os << "/* Threads of the parallel loops (OpenMP, libomp): n >= 1; 0, or "
          "-2 for\n * n < 1. The count is the model's: set_threads calls "
          "omp_set_num_threads\n * and every entry point sets it again on "
          "the thread that calls it (an\n * OpenMP thread count is per "
          "thread). Until set: OMP_NUM_THREADS, else one\n * per CPU. "
          "get_threads: the count the next call runs with. */\n";
  else
    os << "/* Threads: this model has no parallel loops and runs on the "
          "caller's\n * thread; set_threads checks n (0, or -2 for n < 1) "
          "and does nothing,\n * get_threads returns 1. */\n";
  os << "int " << p << "_set_threads(int n);\n"
     << "int " << p << "_get_threads(void);\n\n";
  if (options.target == "nvptx")
    os << "/* The message of the last failure (-3) on this thread. */\n"
       << "const char *" << p << "_last_error(void);\n\n";
  for (const EntryPoint &e : result.entryPoints) {
    os << "/* @" << e.name << ":";
    for (size_t i = 0; i < e.args.size(); ++i)
      os << "\n *   arg" << i << ": " << shapeComment(e.args[i]) << " ("
         << e.args[i].mlirType
         << (e.isUpdated(i) ? ", input and output: updated in place)"
                            : ", input)");
    for (size_t i = 0; i < e.args.size(); ++i)
      if (e.args[i].range)
        os << "\n *   arg" << i << " elements must lie in ["
           << e.args[i].range->first << ", " << e.args[i].range->second
           << "]: -2 otherwise";
    for (size_t i = 0; i < e.results.size(); ++i) {
      if (e.tied[i] >= 0)
        os << "\n *   result" << i << ": arg" << e.tied[i];
      else
        os << "\n *   result" << i << ": " << shapeComment(e.results[i]) << " ("
           << e.results[i].mlirType << ", output)";
    }
    os << " */\nint " << p << "_" << e.name << "(";
    bool first = true;
    for (size_t i = 0; i < e.args.size(); ++i, first = false)
      os << (first ? "" : ", ") << (e.isUpdated(i) ? "" : "const ")
         << e.args[i].cType << " *arg" << i;
    for (size_t i = 0; i < e.results.size(); ++i) {
      if (e.tied[i] >= 0)
        continue;
      os << (first ? "" : ", ") << e.results[i].cType << " *result" << i;
      first = false;
    }
    if (first)
      os << "void";
    os << ");\n";
    for (size_t i = 0; i < e.args.size(); ++i) {
      int64_t n = 1;
      for (int64_t d : e.args[i].shape)
        n *= d;
      os << "#define " << P << "_" << llvm::StringRef(e.name).upper() << "_ARG"
         << i << "_ELEMENTS " << n << "\n";
    }
    for (size_t i = 0; i < e.results.size(); ++i) {
      int64_t n = 1;
      for (int64_t d : e.results[i].shape)
        n *= d;
      os << "#define " << P << "_" << llvm::StringRef(e.name).upper()
         << "_RESULT" << i << "_ELEMENTS " << n << "\n";
    }
    os << "\n";
  }
  writePrefillDispatch(os, p, result);
  // The loader: POSIX mmap, header-only so the library needs no runtime.
  os << "#if defined(__unix__) || defined(__APPLE__)\n"
     << "#include <errno.h>\n#include <fcntl.h>\n#include <stdio.h>\n"
     << "#include <string.h>\n"
     << "#include <sys/mman.h>\n#include <sys/stat.h>\n#include <unistd.h>\n\n"
     << "/* Maps `path` read-only and sets it as the weights: 0, or -1 with "
        "a\n * message in err[errlen]. Call it once: the mapping lives until "
        "the process\n * ends. */\n"
     << "static inline int " << p
     << "_load_weights(const char *path, char *err, size_t errlen) {\n"
     << "  int fd = open(path, O_RDONLY | O_CLOEXEC);\n"
     << "  struct stat st;\n  void *data;\n  int rc;\n"
     << "  if (fd < 0 || fstat(fd, &st) != 0) {\n"
     << "    if (err) snprintf(err, errlen, \"%s: %s\", path, "
        "strerror(errno));\n"
     << "    if (fd >= 0) close(fd);\n    return -1;\n  }\n"
     << "  if ((uint64_t)st.st_size != " << P << "_WEIGHTS_SIZE) {\n"
     << "    if (err) snprintf(err, errlen, \"%s: %lld bytes, this model's "
        "weights are %llu\", path,\n"
     << "                      (long long)st.st_size, " << P
     << "_WEIGHTS_SIZE);\n"
     << "    close(fd);\n    return -1;\n  }\n"
     << "  data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, "
        "fd, 0);\n"
     << "  close(fd);\n"
     << "  if (data == MAP_FAILED) {\n"
     << "    if (err) snprintf(err, errlen, \"%s: mmap: %s\", path, "
        "strerror(errno));\n"
     << "    return -1;\n  }\n"
     << "  rc = " << p << "_set_weights(data, (size_t)st.st_size);\n"
     << "  if (rc != 0) {\n"
     << "    if (err) snprintf(err, errlen, \"%s: not the weights this "
        "model was compiled with (%d)\", path, rc);\n"
     << "    munmap(data, (size_t)st.st_size);\n    return -1;\n  }\n"
     << "  return 0;\n}\n#endif\n\n";
  os << "#ifdef __cplusplus\n}\n#endif\n\n#endif /* " << P << "_H */\n";
  return h;
}

/// The entry points and the blob's identity in JSON: what the Python
/// package (lowbit.compile) loads instead of parsing the header.
std::string compiler::makeManifest(const CompileOptions &options,
                                   const CompileResult &result) {
  llvm::json::Array entries;
  auto buffer = [](const BufferSignature &b) {
    llvm::json::Array shape;
    for (int64_t d : b.shape)
      shape.push_back(d);
    return llvm::json::Object{{"c_type", b.cType},
                              {"mlir_type", b.mlirType},
                              {"shape", std::move(shape)}};
  };
  for (const EntryPoint &e : result.entryPoints) {
    llvm::json::Array args, results;
    for (size_t i = 0; i < e.args.size(); ++i) {
      llvm::json::Object a = buffer(e.args[i]);
      a["updated_in_place"] = e.isUpdated(i);
      if (e.args[i].range)
        a["range"] =
            llvm::json::Array{e.args[i].range->first, e.args[i].range->second};
      args.push_back(std::move(a));
    }
    for (size_t i = 0; i < e.results.size(); ++i) {
      llvm::json::Object r = buffer(e.results[i]);
      r["tied_to_arg"] = e.tied[i];
      results.push_back(std::move(r));
    }
    entries.push_back(
        llvm::json::Object{{"name", e.name},
                           {"symbol", options.prefix + "_" + e.name},
                           {"args", std::move(args)},
                           {"results", std::move(results)}});
  }
  llvm::json::Array kernels;
  for (const std::string &k : result.gpuKernels)
    kernels.push_back(k);
  char fp[32];
  std::snprintf(fp, sizeof fp, "0x%016llx",
                (unsigned long long)result.fingerprint);
  llvm::json::Object root{
      {"format", "lowbit-compile manifest 1"},
      {"prefix", options.prefix},
      {"target", options.target},
      {"sm", options.target == "nvptx" ? llvm::json::Value(options.sm)
                                       : llvm::json::Value(nullptr)},
      {"gpu_kernels", std::move(kernels)},
      {"last_error", options.target == "nvptx"
                         ? llvm::json::Value(options.prefix + "_last_error")
                         : llvm::json::Value(nullptr)},
      {"target_cpu", options.targetCpu},
      {"pipeline", options.pipeline},
      {"weights_size", int64_t(result.weights.size())},
      {"weights_fingerprint", fp},
      {"set_weights", options.prefix + "_set_weights"},
      {"set_threads", options.prefix + "_set_threads"},
      {"get_threads", options.prefix + "_get_threads"},
      {"parallel", result.needsOpenMP},
      {"entry_points", std::move(entries)}};
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
  return out;
}
