// Reporting a C++ exception across the C boundary: a malloc'ed copy of its message in
// `*err`, which the Rust side frees with `dda_free_error` (generator.cpp). Shared by the
// shims (generator.cpp, kernels.cpp).
#pragma once

#include <cstdlib>
#include <cstring>

namespace dda {

inline void set_error(char **err, const char *what) {
  if (err == nullptr) {
    return;
  }
  size_t n = std::strlen(what);
  char *copy = static_cast<char *>(std::malloc(n + 1));
  if (copy != nullptr) {
    std::memcpy(copy, what, n + 1);
  }
  *err = copy;
}

} // namespace dda
