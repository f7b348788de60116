// Random draws from a generator of the caller's own (`at::Generator`), for
// `tch_dda::Generator`. tch's C API takes no generator, so this small shim, compiled
// against the same libtorch headers, calls ATen's generator-taking factories. Tensors
// cross the boundary as `at::Tensor*` allocated with `new`, which is what tch's
// `Tensor::from_ptr` takes ownership of (torch-sys's `tensor` is `torch::Tensor*`).
// Every function catches C++ exceptions and reports them through `err` (a string the
// caller frees with `dda_free_error`).

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Generator.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <ATen/ops/_sample_dirichlet.h>
#include <ATen/ops/bernoulli.h>
#include <ATen/ops/multinomial.h>
#include <ATen/ops/rand.h>
#include <ATen/ops/randint.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/randperm.h>

#include "error.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>

namespace {

using dda::set_error;

// device < 0: the CPU; otherwise the CUDA device of that index.
at::Device device_of(int device) {
  if (device < 0) {
    return at::Device(at::kCPU);
  }
  return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device));
}

at::TensorOptions options(int dtype, int device) {
  return at::TensorOptions()
      .dtype(static_cast<at::ScalarType>(dtype))
      .device(device_of(device));
}

using dda::guarded;

at::Generator &gen_of(void *g) { return *static_cast<at::Generator *>(g); }

} // namespace

extern "C" {

void dda_free_error(char *err) { std::free(err); }

// A new generator for `device`, seeded as `torch.manual_seed(seed)` seeds that device's
// default one.
void *dda_generator_new(int device, uint64_t seed, char **err) {
  try {
    at::Generator g;
    if (device < 0) {
      g = at::detail::createCPUGenerator(seed);
    } else {
      g = at::detail::getCUDAHooks().getNewGenerator(
          static_cast<c10::DeviceIndex>(device));
      std::lock_guard<std::mutex> lock(g.mutex());
      g.set_current_seed(seed);
    }
    return new at::Generator(std::move(g));
  } catch (const std::exception &e) {
    set_error(err, e.what());
  } catch (...) {
    set_error(err, "unknown C++ exception");
  }
  return nullptr;
}

void dda_generator_free(void *g) { delete static_cast<at::Generator *>(g); }

// The generator's state (a uint8 tensor), as `torch.Generator.get_state()`.
void *dda_generator_get_state(void *g, char **err) {
  return guarded(err, [&] {
    std::lock_guard<std::mutex> lock(gen_of(g).mutex());
    return gen_of(g).get_state();
  });
}

// Restores a state from `dda_generator_get_state`; returns 0 on success.
int dda_generator_set_state(void *g, void *state, char **err) {
  return dda::guarded_status(err, [&] {
    std::lock_guard<std::mutex> lock(gen_of(g).mutex());
    gen_of(g).set_state(*static_cast<at::Tensor *>(state));
  });
}

void *dda_rand(void *g, const int64_t *size, size_t ndim, int dtype, int device,
               char **err) {
  return guarded(err, [&] {
    return at::rand(at::IntArrayRef(size, ndim), gen_of(g),
                    options(dtype, device));
  });
}

void *dda_randn(void *g, const int64_t *size, size_t ndim, int dtype, int device,
                char **err) {
  return guarded(err, [&] {
    return at::randn(at::IntArrayRef(size, ndim), gen_of(g),
                     options(dtype, device));
  });
}

void *dda_randint(void *g, int64_t low, int64_t high, const int64_t *size,
                  size_t ndim, int dtype, int device, char **err) {
  return guarded(err, [&] {
    return at::randint(low, high, at::IntArrayRef(size, ndim), gen_of(g),
                       options(dtype, device));
  });
}

void *dda_randperm(void *g, int64_t n, int dtype, int device, char **err) {
  return guarded(err, [&] {
    return at::randperm(n, gen_of(g), options(dtype, device));
  });
}

void *dda_bernoulli(void *g, void *p, char **err) {
  return guarded(err, [&] {
    return at::bernoulli(*static_cast<at::Tensor *>(p), gen_of(g));
  });
}

void *dda_sample_dirichlet(void *g, void *alpha, char **err) {
  return guarded(err, [&] {
    return at::_sample_dirichlet(*static_cast<at::Tensor *>(alpha), gen_of(g));
  });
}

void *dda_multinomial(void *g, void *probs, int64_t n, int replacement, char **err) {
  return guarded(err, [&] {
    return at::multinomial(*static_cast<at::Tensor *>(probs), n, replacement != 0,
                           gen_of(g));
  });
}

} // extern "C"
