//===- MappedFile.cpp - a model file mapped read-only ---------------------===//
//
// SPDX-License-Identifier: Apache-2.0 WITH LLVM-exception
//
//===----------------------------------------------------------------------===//

#include "lowbit/Import/MappedFile.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lowbit::import {

using numerics::Status;

Status mapFile(const std::string &path, std::shared_ptr<const uint8_t> &mapping,
               uint64_t &size) {
  mapping.reset();
  size = 0;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(path + ": " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(path + ": not a regular file");
  }
  uint64_t n = uint64_t(st.st_size);
  if (n) {
    void *p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      return Status::error(path + ": mmap: " + std::strerror(e));
    }
    mapping = std::shared_ptr<const uint8_t>(
        static_cast<const uint8_t *>(p),
        [n](const uint8_t *q) { ::munmap(const_cast<uint8_t *>(q), n); });
  }
  ::close(fd);
  size = n;
  return Status::success();
}

} // namespace lowbit::import
