//===- LowbitModule.cpp - Python bindings of lowbit's numerics --*- C++ -*-===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
// The extension module `lowbit._lowbit`: a thin pybind11 layer over
// LowbitNumerics (include/lowbit/Numerics/Numerics.h). It takes and returns
// numpy arrays; float32 C-contiguous input is read in place, quantized parts
// are returned as read-only views of the C++ QTensor (no copies). Every
// library call runs with the GIL released, and a failed Status raises
// ValueError with the library's message. The public API, with the array
// conversions and the shaping of the parts, is python/lowbit/__init__.py.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Algorithms.h"
#include "lowbit/Numerics/Numerics.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
namespace nx = lowbit::numerics;

namespace {

/// Input arrays: float32, C order; pybind11 converts anything else once.
using F32Array = py::array_t<float, py::array::c_style | py::array::forcecast>;

/// A QTensor and the format name it was made with.
struct PyQTensor {
  nx::QTensor q;
  std::string format;
};

void check(const nx::Status &status) {
  if (!status.ok())
    throw py::value_error(status.message());
}

std::vector<int64_t> shapeOf(const py::array &a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

/// The element type named `name` (Numerics.h's elementTypeName, any case,
/// so MLIR's "f8E4M3FN" works too).
nx::ElementType parseElementType(const std::string &name) {
  nx::ElementType type;
  if (nx::parseElementType(name, type))
    return type;
  std::string known;
  for (nx::ElementType t : nx::allElementTypes())
    known += std::string(known.empty() ? "" : ", ") + nx::elementTypeName(t);
  throw py::value_error("unknown element type '" + name + "' (known: " + known +
                        ")");
}

/// (name, bits) of every element type.
std::vector<std::pair<std::string, unsigned>> elementTypes() {
  std::vector<std::pair<std::string, unsigned>> out;
  for (nx::ElementType t : nx::allElementTypes())
    out.emplace_back(nx::elementTypeName(t), nx::elementBits(t));
  return out;
}

const char *scaleTypeName(nx::ScaleType type) {
  switch (type) {
  case nx::ScaleType::None:
    return "none";
  case nx::ScaleType::F32:
    return "f32";
  case nx::ScaleType::F16:
    return "f16";
  case nx::ScaleType::BF16:
    return "bf16";
  case nx::ScaleType::E8M0:
    return "f8e8m0fnu";
  case nx::ScaleType::E4M3:
    return "f8e4m3fn";
  }
  return "none";
}

nx::Scheme schemeFor(const std::string &format,
                     const std::vector<int64_t> &shape, int64_t groupSize,
                     bool asymmetric) {
  if (groupSize < 0)
    throw py::value_error("group_size must be >= 0");
  nx::FormatOptions options;
  options.groupSize = groupSize;
  options.asymmetric = asymmetric;
  nx::Scheme scheme;
  check(nx::schemeForFormat(format, shape, options, scheme));
  return scheme;
}

/// A general scheme (the plain mirror of `#lowbit.scheme`): `element` is
/// iN/uiN (N = 2..8), "ternary" or a float element type; `blocks` gives
/// every dimension its block size; `scale` is f32, f16, bf16, f8e8m0fnu
/// (MX) or f8e4m3fn (NVFP4, with `tensorScale`), or none for a cast.
nx::Scheme schemeFrom(std::string element, const std::vector<int64_t> &blocks,
                      std::string scale, bool asymmetric, bool fullRange,
                      const std::string &rounding, bool saturate,
                      bool tensorScale) {
  nx::Scheme s;
  for (char &c : element)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  for (char &c : scale)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  auto intWidth = [&](size_t prefix) -> unsigned {
    if (element.size() != prefix + 1 || element[prefix] < '2' ||
        element[prefix] > '8')
      throw py::value_error("integer elements are i2..i8 or ui2..ui8, got '" +
                            element + "'");
    return unsigned(element[prefix] - '0');
  };
  if (element == "ternary") {
    s.kind = nx::ElementKind::Ternary;
    s.bits = 2;
  } else if (element.rfind("ui", 0) == 0) {
    s.kind = nx::ElementKind::Int;
    s.bits = intWidth(2);
    s.isSigned = false;
  } else if (element.rfind("i", 0) == 0) {
    s.kind = nx::ElementKind::Int;
    s.bits = intWidth(1);
  } else {
    s.kind = nx::ElementKind::MiniFloat;
    s.minifloat = parseElementType(element);
  }
  static const std::pair<const char *, nx::ScaleType> kScales[] = {
      {"none", nx::ScaleType::None},      {"f32", nx::ScaleType::F32},
      {"f16", nx::ScaleType::F16},        {"bf16", nx::ScaleType::BF16},
      {"f8e8m0fnu", nx::ScaleType::E8M0}, {"f8e4m3fn", nx::ScaleType::E4M3}};
  bool found = false;
  for (const auto &[name, type] : kScales)
    if (scale == name) {
      s.scale = type;
      found = true;
    }
  if (!found)
    throw py::value_error("unknown scale type '" + scale +
                          "' (known: none, f32, f16, bf16, f8e8m0fnu, "
                          "f8e4m3fn)");
  if (rounding == "nearest_even")
    s.rounding = nx::Rounding::NearestEven;
  else if (rounding == "nearest_away")
    s.rounding = nx::Rounding::NearestAway;
  else
    throw py::value_error("rounding is nearest_even or nearest_away, got '" +
                          rounding + "'");
  s.symmetric = !asymmetric;
  s.fullRange = fullRange;
  s.saturate = saturate;
  s.tensorScale = tensorScale;
  if (s.scale != nx::ScaleType::None)
    s.blockSizes = blocks;
  return s;
}

/// A read-only 1-D numpy view of `n` elements at `data`, kept alive by
/// `owner`.
template <typename T>
py::array readOnlyView(const T *data, size_t n, py::handle owner) {
  py::array view(py::dtype::of<T>(), {static_cast<py::ssize_t>(n)},
                 {static_cast<py::ssize_t>(sizeof(T))}, data, owner);
  view.attr("flags").attr("writeable") = false;
  return view;
}

std::unique_ptr<PyQTensor> quantize(F32Array x, const std::string &format,
                                    int64_t groupSize, bool asymmetric) {
  std::vector<int64_t> shape = shapeOf(x);
  nx::Scheme scheme = schemeFor(format, shape, groupSize, asymmetric);
  auto result = std::make_unique<PyQTensor>();
  result->format = format;
  const float *data = x.data();
  nx::Status status;
  {
    py::gil_scoped_release release;
    status = nx::quantize(data, shape, scheme, result->q, /*strict=*/true);
  }
  check(status);
  return result;
}

std::unique_ptr<PyQTensor>
quantizeScheme(F32Array x, const std::string &element,
               const std::vector<int64_t> &blocks, const std::string &scale,
               bool asymmetric, bool fullRange, const std::string &rounding,
               bool saturate, bool tensorScale, bool strict) {
  nx::Scheme scheme = schemeFrom(element, blocks, scale, asymmetric, fullRange,
                                 rounding, saturate, tensorScale);
  auto result = std::make_unique<PyQTensor>();
  result->format = "scheme";
  std::vector<int64_t> shape = shapeOf(x);
  const float *data = x.data();
  nx::Status status;
  {
    py::gil_scoped_release release;
    status = nx::quantize(data, shape, scheme, result->q, strict);
  }
  check(status);
  return result;
}

std::unique_ptr<PyQTensor> gptqFn(F32Array w, F32Array h,
                                  const std::string &element, int64_t groupSize,
                                  bool asymmetric, const std::string &scale,
                                  bool actOrder, bool staticGroups, float damp,
                                  int64_t blockSize) {
  if (w.ndim() != 2 || h.ndim() != 2 || h.shape(0) != h.shape(1) ||
      h.shape(0) != w.shape(1))
    throw py::value_error("gptq: w must be [out, in] and h [in, in]");
  int64_t rows = w.shape(0), cols = w.shape(1);
  if (groupSize < 0)
    throw py::value_error("group_size must be >= 0");
  nx::Scheme scheme =
      schemeFrom(element, {1, groupSize ? groupSize : cols}, scale, asymmetric,
                 /*fullRange=*/false, "nearest_even", /*saturate=*/true,
                 /*tensorScale=*/false);
  nx::GPTQOptions options;
  options.actOrder = actOrder;
  options.staticGroups = staticGroups;
  options.damp = damp;
  options.blockSize = blockSize;
  auto result = std::make_unique<PyQTensor>();
  result->format = "gptq";
  const float *wd = w.data(), *hd = h.data();
  nx::Status status;
  {
    py::gil_scoped_release release;
    status = nx::gptq(wd, rows, cols, hd, scheme, options, result->q);
  }
  check(status);
  return result;
}

py::array_t<float> dequantize(const PyQTensor &self) {
  py::array_t<float> out(self.q.shape);
  float *data = out.mutable_data();
  nx::Status status;
  {
    py::gil_scoped_release release;
    status = nx::dequantize(self.q, data);
  }
  check(status);
  return out;
}

py::array_t<float> fakeQuant(F32Array x, const std::string &format,
                             int64_t groupSize, bool asymmetric) {
  std::vector<int64_t> shape = shapeOf(x);
  nx::Scheme scheme = schemeFor(format, shape, groupSize, asymmetric);
  py::array_t<float> out(shape);
  const float *in = x.data();
  float *data = out.mutable_data();
  nx::Status status;
  {
    py::gil_scoped_release release;
    status = nx::fakeQuant(in, shape, scheme, data, /*strict=*/true);
  }
  check(status);
  return out;
}

template <typename Code>
py::array castTo(const F32Array &x, nx::ElementType type, bool saturate) {
  py::array_t<Code> out(shapeOf(x));
  const float *in = x.data();
  Code *codes = out.mutable_data();
  py::ssize_t n = x.size();
  {
    py::gil_scoped_release release;
    for (py::ssize_t i = 0; i < n; ++i)
      codes[i] = static_cast<Code>(nx::encodeElement(type, in[i], saturate));
  }
  return out;
}

py::array cast(F32Array x, const std::string &elementType, bool saturate) {
  nx::ElementType type = parseElementType(elementType);
  if (nx::elementBits(type) > 8)
    return castTo<uint16_t>(x, type, saturate);
  return castTo<uint8_t>(x, type, saturate);
}

template <typename Code>
py::array_t<float> decodeFrom(py::array codesIn, nx::ElementType type) {
  auto codes =
      py::array_t<Code, py::array::c_style | py::array::forcecast>::ensure(
          codesIn);
  if (!codes)
    throw py::type_error("codes must be an array of unsigned integers");
  unsigned bits = nx::elementBits(type);
  py::array_t<float> out(shapeOf(codes));
  const Code *in = codes.data();
  float *values = out.mutable_data();
  py::ssize_t n = codes.size();
  py::ssize_t bad = -1;
  {
    py::gil_scoped_release release;
    for (py::ssize_t i = 0; i < n; ++i) {
      if (bits < 8 * sizeof(Code) && (in[i] >> bits) != 0) {
        bad = i;
        break;
      }
      values[i] = nx::decodeElement(type, in[i]);
    }
  }
  if (bad >= 0)
    throw py::value_error("code " + std::to_string(in[bad]) + " at index " +
                          std::to_string(bad) + " does not fit in " +
                          std::to_string(bits) + " bits of " +
                          nx::elementTypeName(type));
  return out;
}

py::array_t<float> decode(py::array codes, const std::string &elementType) {
  nx::ElementType type = parseElementType(elementType);
  if (nx::elementBits(type) > 8)
    return decodeFrom<uint16_t>(codes, type);
  return decodeFrom<uint8_t>(codes, type);
}

/// A new numpy array of `shape` holding a copy of `data`.
template <typename T>
py::array_t<T> copyToArray(const T *data, std::vector<py::ssize_t> shape) {
  py::array_t<T> out(shape);
  if (out.size())
    std::memcpy(out.mutable_data(), data, size_t(out.size()) * sizeof(T));
  return out;
}

py::tuple hqqFn(F32Array w, const std::string &element, int64_t groupSize,
                const std::string &scale, int64_t iters, float lpNorm,
                float beta, float kappa, bool earlyStop, bool optimizeScale) {
  if (w.ndim() != 2)
    throw py::value_error("hqq: w must be [out, in]");
  int64_t rows = w.shape(0), cols = w.shape(1);
  if (groupSize < 0)
    throw py::value_error("group_size must be >= 0");
  nx::Scheme scheme =
      schemeFrom(element, {1, groupSize ? groupSize : cols}, scale,
                 /*asymmetric=*/true, /*fullRange=*/false, "nearest_even",
                 /*saturate=*/true, /*tensorScale=*/false);
  nx::HQQOptions options;
  options.iters = iters;
  options.lpNorm = lpNorm;
  options.beta = beta;
  options.kappa = kappa;
  options.earlyStop = earlyStop;
  options.optimizeScale = optimizeScale;
  auto result = std::make_unique<PyQTensor>();
  result->format = "hqq";
  nx::HQQInfo info;
  const float *wd = w.data();
  nx::Status status;
  {
    py::gil_scoped_release release;
    status = nx::hqq(wd, rows, cols, scheme, options, result->q, &info);
  }
  check(status);
  py::dict d;
  d["errors"] =
      copyToArray(info.errors.data(), {py::ssize_t(info.errors.size())});
  d["best"] = info.best;
  return py::make_tuple(py::cast(std::move(result)), d);
}

py::tuple awqFn(F32Array w, F32Array x, const std::string &element,
                int64_t groupSize, bool asymmetric, const std::string &scale,
                std::optional<F32Array> xMeanAbs, int64_t nGrid,
                bool searchScale, bool clip, int64_t clipGrid, double maxShrink,
                int64_t clipTokens) {
  if (w.ndim() != 2 || x.ndim() != 2 || x.shape(1) != w.shape(1))
    throw py::value_error("awq: w must be [out, in] and x [tokens, in]");
  int64_t rows = w.shape(0), cols = w.shape(1), tokens = x.shape(0);
  if (xMeanAbs && (xMeanAbs->ndim() != 1 || xMeanAbs->shape(0) != cols))
    throw py::value_error("awq: x_mean_abs must have one value per input "
                          "channel (" +
                          std::to_string(cols) + ")");
  if (groupSize < 0)
    throw py::value_error("group_size must be >= 0");
  nx::Scheme scheme =
      schemeFrom(element, {1, groupSize ? groupSize : cols}, scale, asymmetric,
                 /*fullRange=*/false, "nearest_even", /*saturate=*/true,
                 /*tensorScale=*/false);
  nx::AWQOptions options;
  options.scaleGrid = nGrid;
  options.searchScale = searchScale;
  options.searchClip = clip;
  options.clipGrid = clipGrid;
  options.maxShrink = maxShrink;
  options.clipTokens = clipTokens;
  auto result = std::make_unique<PyQTensor>();
  result->format = "awq";
  nx::AWQInfo info;
  std::vector<float> scales;
  const float *wd = w.data(), *xd = x.data();
  const float *md = xMeanAbs ? xMeanAbs->data() : nullptr;
  nx::Status status;
  {
    py::gil_scoped_release release;
    status = nx::awq(wd, rows, cols, xd, tokens, md, scheme, options, result->q,
                     scales, &info);
  }
  check(status);
  const int64_t groups = int64_t(info.clipSteps.size()) / rows;
  py::dict d;
  d["alpha"] = info.alpha;
  d["losses"] =
      copyToArray(info.losses.data(), {py::ssize_t(info.losses.size())});
  d["clip_steps"] = copyToArray(info.clipSteps.data(),
                                {py::ssize_t(rows), py::ssize_t(groups)});
  d["clip_max"] = copyToArray(info.clipMax.data(),
                              {py::ssize_t(rows), py::ssize_t(groups)});
  py::array_t<float> s =
      copyToArray(scales.data(), {py::ssize_t(scales.size())});
  return py::make_tuple(py::cast(std::move(result)), s, d);
}

py::array_t<float> smoothQuantScalesFn(F32Array xmax, F32Array wmax,
                                       float alpha) {
  if (xmax.ndim() != 1 || wmax.ndim() != 1 || xmax.shape(0) != wmax.shape(0))
    throw py::value_error("smoothquant_scales: x_absmax and w_absmax must be "
                          "vectors of the same length");
  std::vector<float> xs(xmax.data(), xmax.data() + xmax.shape(0));
  std::vector<float> ws(wmax.data(), wmax.data() + wmax.shape(0));
  std::vector<float> s = nx::smoothQuantScales(xs, ws, alpha);
  return copyToArray(s.data(), {py::ssize_t(s.size())});
}

} // namespace

PYBIND11_MODULE(_lowbit, m) {
  m.doc() = "lowbit's numerics library (C++); use the `lowbit` package.";

  py::class_<PyQTensor>(m, "QTensor")
      .def_property_readonly("format",
                             [](const PyQTensor &self) { return self.format; })
      .def_property_readonly("shape",
                             [](const PyQTensor &self) {
                               return py::tuple(py::cast(self.q.shape));
                             })
      .def_property_readonly("is_gguf",
                             [](const PyQTensor &self) {
                               return self.q.scheme.kind ==
                                      nx::ElementKind::GGUF;
                             })
      .def_property_readonly(
          "code_bits",
          [](const PyQTensor &self) { return self.q.scheme.codeBits(); })
      .def_property_readonly(
          "codes",
          [](py::object self) {
            const auto &q = self.cast<const PyQTensor &>().q;
            return readOnlyView(q.codes.data(), q.codes.size(), self);
          },
          "Packed codes (uint8, flat), exactly QTensor::codes.")
      .def_property_readonly("codes_shape",
                             [](const PyQTensor &self) {
                               return py::tuple(py::cast(self.q.codesShape()));
                             })
      .def_property_readonly("scale_type",
                             [](const PyQTensor &self) {
                               return scaleTypeName(self.q.scheme.scale);
                             })
      .def_property_readonly("scale_shape",
                             [](const PyQTensor &self) {
                               return py::tuple(py::cast(self.q.scaleShape()));
                             })
      .def_property_readonly(
          "scale_bytes",
          [](py::object self) -> py::object {
            const auto &q = self.cast<const PyQTensor &>().q;
            if (q.scheme.scale == nx::ScaleType::None ||
                q.scheme.kind == nx::ElementKind::GGUF)
              return py::none();
            return readOnlyView(q.scales.data(), q.scales.size(), self);
          },
          "Scales in their storage encoding (uint8, flat), or None.")
      .def_property_readonly(
          "zero_points",
          [](py::object self) -> py::object {
            const auto &q = self.cast<const PyQTensor &>().q;
            if (q.scheme.symmetric)
              return py::none();
            return readOnlyView(q.zeroPoints.data(), q.zeroPoints.size(), self);
          },
          "Zero points (int32, flat) of an asymmetric scheme, or None.")
      .def_property_readonly("tensor_scale",
                             [](const PyQTensor &self) -> py::object {
                               if (!self.q.scheme.tensorScale)
                                 return py::none();
                               return py::float_(self.q.tensorScale);
                             })
      .def("dequantize", &dequantize,
           "Decodes to a float32 array of the input's shape.");

  m.def("formats", &nx::formatNames, "The format names quantize accepts.");
  m.def("element_types", &elementTypes, "(name, bits) of every element type.");
  m.def("quantize", &quantize, py::arg("x"), py::arg("format"),
        py::arg("group_size") = 0, py::arg("asymmetric") = false);
  m.def("quantize_scheme", &quantizeScheme, py::arg("x"), py::arg("element"),
        py::arg("blocks"), py::arg("scale"), py::arg("asymmetric"),
        py::arg("full_range"), py::arg("rounding"), py::arg("saturate"),
        py::arg("tensor_scale"), py::arg("strict"));
  m.def("gptq", &gptqFn, py::arg("w"), py::arg("h"), py::arg("element"),
        py::arg("group_size"), py::arg("asymmetric"), py::arg("scale"),
        py::arg("act_order"), py::arg("static_groups"), py::arg("damp"),
        py::arg("block_size"));
  m.def("fake_quant", &fakeQuant, py::arg("x"), py::arg("format"),
        py::arg("group_size") = 0, py::arg("asymmetric") = false);
  m.def("cast", &cast, py::arg("x"), py::arg("element_type"),
        py::arg("saturate") = true);
  m.def("decode", &decode, py::arg("codes"), py::arg("element_type"));
  m.def("hqq", &hqqFn, py::arg("w"), py::arg("element"), py::arg("group_size"),
        py::arg("scale"), py::arg("iters"), py::arg("lp_norm"), py::arg("beta"),
        py::arg("kappa"), py::arg("early_stop"), py::arg("optimize_scale"));
  m.def("awq", &awqFn, py::arg("w"), py::arg("x"), py::arg("element"),
        py::arg("group_size"), py::arg("asymmetric"), py::arg("scale"),
        py::arg("x_mean_abs"), py::arg("n_grid"), py::arg("search_scale"),
        py::arg("clip"), py::arg("clip_grid"), py::arg("max_shrink"),
        py::arg("clip_tokens"));
  m.def("smoothquant_scales", &smoothQuantScalesFn, py::arg("x_absmax"),
        py::arg("w_absmax"), py::arg("alpha"));
}
