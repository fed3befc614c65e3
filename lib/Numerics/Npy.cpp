//===- Npy.cpp - .npy reading, atomic writing -----------------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lowbit/Numerics/Npy.h"

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <unistd.h>

namespace lowbit::numerics {

namespace {

Status fail(const std::string &path, const std::string &what) {
  return Status::error(path + ": " + what);
}

/// Value of `key` in the header dict, as raw text up to the matching
/// delimiter ('...' for strings, (...) for tuples, a bare word otherwise).
bool headerField(const std::string &h, const std::string &key,
                 std::string &value) {
  size_t k = h.find("'" + key + "'");
  if (k == std::string::npos)
    return false;
  size_t colon = h.find(':', k);
  if (colon == std::string::npos)
    return false;
  size_t i = h.find_first_not_of(" \t", colon + 1);
  if (i == std::string::npos)
    return false;
  if (h[i] == '\'') {
    size_t j = h.find('\'', i + 1);
    if (j == std::string::npos)
      return false;
    value = h.substr(i + 1, j - i - 1);
  } else if (h[i] == '(') {
    size_t j = h.find(')', i);
    if (j == std::string::npos)
      return false;
    value = h.substr(i + 1, j - i - 1);
  } else {
    size_t j = h.find_first_of(",}", i);
    if (j == std::string::npos)
      return false;
    value = h.substr(i, j - i);
    while (!value.empty() && value.back() == ' ')
      value.pop_back();
  }
  return true;
}

} // namespace

Status readNpyFloat(const std::string &path, std::vector<int64_t> &shape,
                    std::vector<float> &data) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return fail(path, "not a .npy file (bad magic)");
  unsigned major = uint8_t(bytes[6]);
  size_t headerLen, headerStart;
  if (major == 1) {
    headerLen = uint8_t(bytes[8]) | (size_t(uint8_t(bytes[9])) << 8);
    headerStart = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12)
      return fail(path, "truncated .npy header");
    headerLen = 0;
    for (int i = 0; i < 4; ++i)
      headerLen |= size_t(uint8_t(bytes[8 + i])) << (8 * i);
    headerStart = 12;
  } else {
    return fail(path, "unsupported .npy version " + std::to_string(major));
  }
  if (bytes.size() < headerStart + headerLen)
    return fail(path, "truncated .npy header");
  std::string h = bytes.substr(headerStart, headerLen);
  std::string descr, fortran, shapeText;
  if (!headerField(h, "descr", descr) ||
      !headerField(h, "fortran_order", fortran) ||
      !headerField(h, "shape", shapeText))
    return fail(path, "malformed .npy header: " + h);
  unsigned elemBytes;
  bool big = false;
  if (descr == "<f4" || descr == "=f4" || descr == ">f4") {
    elemBytes = 4;
    big = descr[0] == '>';
  } else if (descr == "<f2" || descr == "=f2" || descr == ">f2") {
    elemBytes = 2;
    big = descr[0] == '>';
  } else if (descr == "<V2") {
    return fail(path, "dtype '<V2' (how numpy saves ml_dtypes bfloat16) is "
                      "ambiguous; save the array as float32");
  } else {
    return fail(path, "dtype '" + descr +
                          "' is not float32 or float16; convert the array");
  }
  shape.clear();
  size_t pos = 0;
  while (pos < shapeText.size()) {
    size_t comma = shapeText.find(',', pos);
    std::string tok = shapeText.substr(
        pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t a = tok.find_first_not_of(" ");
    if (a != std::string::npos) {
      tok = tok.substr(a, tok.find_last_not_of(" ") - a + 1);
      char *end;
      errno = 0;
      long long v = std::strtoll(tok.c_str(), &end, 10);
      if (*end || errno || v < 0)
        return fail(path, "malformed shape (" + shapeText + ")");
      shape.push_back(v);
    }
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  if (shape.size() > 64)
    return fail(path, "rank " + std::to_string(shape.size()) +
                          " exceeds numpy's limit of 64 dimensions");
  size_t n = 1;
  for (int64_t d : shape) {
    if (d && n > (size_t(1) << 40) / size_t(d))
      return fail(path, "array too large");
    n *= size_t(d);
  }
  size_t dataStart = headerStart + headerLen;
  if (bytes.size() - dataStart != n * elemBytes)
    return fail(path, "holds " + std::to_string(bytes.size() - dataStart) +
                          " data bytes, shape (" + shapeText + ") needs " +
                          std::to_string(n * elemBytes));
  std::vector<float> flat(n);
  const unsigned char *p =
      reinterpret_cast<const unsigned char *>(bytes.data() + dataStart);
  for (size_t i = 0; i < n; ++i) {
    const unsigned char *e = p + i * elemBytes;
    if (elemBytes == 4) {
      uint32_t u = big ? (uint32_t(e[0]) << 24 | uint32_t(e[1]) << 16 |
                          uint32_t(e[2]) << 8 | e[3])
                       : (uint32_t(e[3]) << 24 | uint32_t(e[2]) << 16 |
                          uint32_t(e[1]) << 8 | e[0]);
      std::memcpy(&flat[i], &u, 4);
    } else {
      uint16_t u =
          big ? uint16_t(e[0] << 8 | e[1]) : uint16_t(e[1] << 8 | e[0]);
      flat[i] = halfBitsToFloat(u);
    }
  }
  if (fortran == "True" && shape.size() > 1) {
    // Column-major on disk: element (i0, ..., ik) at sum i_d * prod_{e<d} D_e.
    data.resize(n);
    std::vector<int64_t> idx(shape.size(), 0);
    for (size_t out = 0; out < n; ++out) {
      size_t src = 0, stride = 1;
      for (size_t d = 0; d < shape.size(); ++d) {
        src += size_t(idx[d]) * stride;
        stride *= size_t(shape[d]);
      }
      data[out] = flat[src];
      for (size_t d = shape.size(); d-- > 0;) {
        if (++idx[d] < shape[d])
          break;
        idx[d] = 0;
      }
    }
  } else if (fortran != "True" && fortran != "False") {
    return fail(path, "malformed fortran_order in .npy header");
  } else {
    data = std::move(flat);
  }
  return Status::success();
}

Status
writeFileAtomic(const std::string &path,
                const std::vector<std::pair<const void *, size_t>> &chunks) {
  if (path == "-") {
    for (const auto &c : chunks)
      if (c.second && std::fwrite(c.first, 1, c.second, stdout) != c.second)
        return Status::error("<stdout>: write failed");
    if (std::fflush(stdout) != 0)
      return Status::error("<stdout>: write failed");
    return Status::success();
  }
  // An existing non-regular target (a FIFO, /dev/stdout, a device) cannot
  // be replaced by a rename: write to it directly. A symlink is followed, so
  // that the file it names is the one replaced.
  std::string target = path;
  struct stat info;
  if (::lstat(path.c_str(), &info) == 0 && S_ISLNK(info.st_mode)) {
    if (char *resolved = ::realpath(path.c_str(), nullptr)) {
      target = resolved;
      std::free(resolved);
    }
  }
  if (::stat(target.c_str(), &info) == 0 && !S_ISREG(info.st_mode)) {
    if (S_ISDIR(info.st_mode))
      return fail(path, "is a directory");
    int fd = ::open(target.c_str(), O_WRONLY | O_TRUNC);
    if (fd < 0)
      return fail(path, std::string("cannot open for writing: ") +
                            std::strerror(errno));
    for (const auto &c : chunks) {
      const char *p = static_cast<const char *>(c.first);
      size_t left = c.second;
      while (left) {
        ssize_t w = ::write(fd, p, left);
        if (w < 0 && errno == EINTR)
          continue;
        if (w < 0) {
          int err = errno;
          ::close(fd);
          return fail(path, std::string("write failed: ") + std::strerror(err));
        }
        p += w;
        left -= size_t(w);
      }
    }
    if (::close(fd) != 0)
      return fail(path, std::string("close failed: ") + std::strerror(errno));
    return Status::success();
  }
  std::string tmp = target + ".tmp-XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0)
    return fail(path,
                std::string("cannot create output: ") + std::strerror(errno));
  auto abandon = [&](const std::string &why) {
    int err = errno;
    ::close(fd);
    ::unlink(name.data());
    return fail(path, why + ": " + std::strerror(err));
  };
  for (const auto &c : chunks) {
    const char *p = static_cast<const char *>(c.first);
    size_t left = c.second;
    while (left) {
      ssize_t w = ::write(fd, p, left);
      if (w < 0) {
        if (errno == EINTR)
          continue;
        return abandon("write failed");
      }
      p += w;
      left -= size_t(w);
    }
  }
  if (::fsync(fd) != 0 && errno != EINVAL && errno != EROFS)
    return abandon("fsync failed");
  // mkstemp creates 0600; give the file the usual permissions.
  mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(fd, 0666 & ~mask);
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(name.data());
    return fail(path, std::string("close failed: ") + std::strerror(err));
  }
  if (::rename(name.data(), target.c_str()) != 0) {
    int err = errno;
    ::unlink(name.data());
    return fail(path,
                std::string("cannot rename into place: ") + std::strerror(err));
  }
  return Status::success();
}

Status writeNpyFloat32(const std::string &path,
                       const std::vector<int64_t> &shape, const float *data) {
  std::string dims;
  for (int64_t d : shape)
    dims += std::to_string(d) + ", ";
  if (shape.size() > 1)
    dims.erase(dims.size() - 2); // "(3, 4)"; rank 1 keeps "(3,)"
  else if (shape.size() == 1)
    dims.pop_back();
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Pad so that the data starts on a 64-byte boundary; end with '\n'.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  std::string pre = "\x93NUMPY";
  pre.push_back('\x01');
  pre.push_back('\x00');
  pre.push_back(char(header.size() & 0xFF));
  pre.push_back(char(header.size() >> 8));
  size_t n = 1;
  for (int64_t d : shape)
    n *= size_t(d);
  return writeFileAtomic(path, {{pre.data(), pre.size()},
                                {header.data(), header.size()},
                                {data, n * sizeof(float)}});
}

} // namespace lowbit::numerics
