// Reporting a C++ exception across the C boundary: a malloc'ed copy of its message in
// `*err`, which the Rust side frees with `dda_free_error` (generator.cpp). Shared by the
// shims (generator.cpp, kernels.cpp).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdlib>
#include <cstring>
#include <exception>

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

// `new at::Tensor(f())`, or null with the exception's message in `*err`.
template <typename F> at::Tensor *guarded(char **err, F f) {
  try {
    return new at::Tensor(f());
  } catch (const std::exception &e) {
    set_error(err, e.what());
  } catch (...) {
    set_error(err, "unknown C++ exception");
  }
  return nullptr;
}

// 0 after `f()`, or 1 with the exception's message in `*err`.
template <typename F> int guarded_status(char **err, F f) {
  try {
    f();
    return 0;
  } catch (const std::exception &e) {
    set_error(err, e.what());
  } catch (...) {
    set_error(err, "unknown C++ exception");
  }
  return 1;
}

} // namespace dda
