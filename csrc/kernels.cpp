// Fused CPU kernels for the steps whose libtorch composition is many passes over the image,
// or many small ops. The per-pixel loops live in rows.h (compiled once per instruction set);
// here are the drivers: libtorch's TensorIterator splits each pass between its threads.
//
// - `dda_hue_rotate(x, turns)`: the hue rotation of `src/intensity/color.rs` (`adjust_hue`),
//   one pass forward and one pass backward instead of about twenty-five of each. It is a
//   `torch::autograd::Function`: the result carries a graph node whose backward gives the
//   gradients with respect to the image and to the per-sample turns, with the subgradients
//   libtorch's own ops give the composition (amax/amin share the gradient between tied
//   channels; clamp passes it on its closed interval; abs has sign 0 at 0).
// - `dda_jitter(x, factors, steps)`: ColorJitter (torchvision's flavour), one pass before
//   contrast's mean and one after; with a gradient to take, a graph node whose backward is
//   two passes (image and factor gradients, contrast's mean included).
// - `dda_color_map(x, params)`: the fast mode's colour map (one matrix, bias and clamp per
//   sample), one pass; with a gradient to take, a graph node whose backward is one pass
//   (the image gradient and the per-sample sums of the params' gradients).
// - `dda_resample(x, ys, xs)`: RandomResizedCrop's bilinear resampling on a separable grid
//   (each crop's rows and columns), one pass per plane; with a gradient to take, a graph
//   node whose backward spreads each output row over its source columns and adds it to its
//   two source rows, instead of `grid_sampler`'s backward.
// - `dda_grid`, `dda_inverse3x3`: the sampling grid's output-sized pass and the warps' 3×3
//   inverses, where there is no graph.
//
// Every float operation is the composition's, in its order and in the image's dtype, so
// the values equal the composition's (saturation's gray, the colour map's sums, the
// projective grid's and the resampling's aside: within float rounding). The graph nodes are
// differentiable once (`once_differentiable`).
// Only float32/float64 CPU tensors come here; other devices keep the composition (the Rust
// side decides). Exceptions are reported through `err`, as in generator.cpp.

#include <ATen/Dispatch.h>
#include <ATen/TensorIterator.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include "error.h"
#include "rows.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

namespace {

// The row loops, for the widest instruction set this CPU runs (rows.h). Picked once;
// ATEN_CPU_CAPABILITY=default (libtorch's own switch) keeps the baseline.
extern "C" const DdaRows *dda_rows_base();
#ifdef DDA_HAVE_AVX2
extern "C" const DdaRows *dda_rows_avx2();
#endif

const DdaRows &rows() {
  static const DdaRows *const table = [] {
#ifdef DDA_HAVE_AVX2
    const char *cap = std::getenv("ATEN_CPU_CAPABILITY");
    const bool baseline = cap != nullptr && std::strcmp(cap, "default") == 0;
    __builtin_cpu_init();
    if (!baseline && __builtin_cpu_supports("avx2")) {
      return dda_rows_avx2();
    }
#endif
    return dda_rows_base();
  }();
  return *table;
}

template <typename T> const DdaRowTable<T> &row_table();
template <> const DdaRowTable<float> &row_table<float>() { return rows().f; }
template <> const DdaRowTable<double> &row_table<double>() { return rows().d; }

// The graph nodes' backward passes are raw kernels: their results carry no graph of their
// own. A backward asked to build one (`create_graph`, for a gradient of a gradient) fails
// with what to do instead, rather than giving a second derivative with this node's share
// missing.
void once_differentiable(const char *what) {
  TORCH_CHECK(!at::GradMode::is_enabled(), "tch-dda: the fused CPU kernel of ", what,
              " is differentiable once; for a gradient of a gradient (create_graph), run the "
              "forward pass in tch_dda::kernel_path_scope(KernelPath::Composed) (or after "
              "tch_dda::set_fused_cpu_kernels(false))");
}

// Whether a kernel's call records a graph node: grad mode on and an operand that requires a
// gradient.
template <typename... Ts> bool records(const Ts &...operands) {
  return at::GradMode::is_enabled() && (operands.requires_grad() || ...);
}

// A backward's upstream gradient in the forward's dtype, contiguous.
at::Tensor upstream(const at::Tensor &grad_out, at::ScalarType dtype) {
  return grad_out.to(dtype).contiguous();
}

template <typename T> inline T at_(char *base, int64_t stride, int64_t i) {
  return *reinterpret_cast<T *>(base + i * stride);
}

template <typename T> inline T &out_(char *base, int64_t stride, int64_t i) {
  return *reinterpret_cast<T *>(base + i * stride);
}

// A TensorIterator loop's N operand pointers for one call, moved on row by row, and whether
// its rows can go to the contiguous row loops: every operand contiguous along the inner
// dimension (`elem` bytes apart) but the ones listed in `per_sample`, constant along it.
template <int N> struct Operands {
  char *ptr[N];
  bool contiguous = true;

  Operands(char **data, const int64_t *strides, int64_t elem,
           std::initializer_list<int> per_sample) {
    for (int j = 0; j < N; ++j) {
      ptr[j] = data[j];
      const bool constant =
          std::find(per_sample.begin(), per_sample.end(), j) != per_sample.end();
      contiguous = contiguous && strides[j] == (constant ? 0 : elem);
    }
  }

  template <typename T> T *row(int j) const { return reinterpret_cast<T *>(ptr[j]); }

  void next(const int64_t *strides) {
    for (int j = 0; j < N; ++j) {
      ptr[j] += strides[N + j];
    }
  }
};

// Forward: operands out_r, out_g, out_b, r, g, b, turns.
template <typename T>
void hue_forward_loop(char **data, const int64_t *strides, int64_t size0, int64_t size1) {
  Operands<7> op(data, strides, sizeof(T), {6});
  for (int64_t outer = 0; outer < size1; ++outer) {
    if (op.contiguous) {
      row_table<T>().hue_forward(op.row<T>(0), op.row<T>(1), op.row<T>(2), op.row<const T>(3),
                                 op.row<const T>(4), op.row<const T>(5), *op.row<const T>(6),
                                 size0);
    } else {
      char **ptr = op.ptr;
      for (int64_t i = 0; i < size0; ++i) {
        auto p = hue_pixel<T>(at_<T>(ptr[3], strides[3], i), at_<T>(ptr[4], strides[4], i),
                              at_<T>(ptr[5], strides[5], i), at_<T>(ptr[6], strides[6], i));
        for (int k = 0; k < 3; ++k) {
          out_<T>(ptr[k], strides[k], i) = hue_out(p, k);
        }
      }
    }
    op.next(strides);
  }
}

// Backward: operands d_r, d_g, d_b, d_turns (per pixel), r, g, b, turns, g_r, g_g, g_b.
template <typename T>
void hue_backward_loop(char **data, const int64_t *strides, int64_t size0, int64_t size1) {
  Operands<11> op(data, strides, sizeof(T), {7});
  for (int64_t outer = 0; outer < size1; ++outer) {
    if (op.contiguous) {
      row_table<T>().hue_backward(op.row<T>(0), op.row<T>(1), op.row<T>(2), op.row<T>(3),
                                  op.row<const T>(4), op.row<const T>(5), op.row<const T>(6),
                                  op.row<const T>(8), op.row<const T>(9), op.row<const T>(10),
                                  *op.row<const T>(7), size0);
    } else {
      char **ptr = op.ptr;
      for (int64_t i = 0; i < size0; ++i) {
        T d0, d1, d2;
        const T dt = hue_pixel_backward<T>(
            at_<T>(ptr[4], strides[4], i), at_<T>(ptr[5], strides[5], i),
            at_<T>(ptr[6], strides[6], i), at_<T>(ptr[8], strides[8], i),
            at_<T>(ptr[9], strides[9], i), at_<T>(ptr[10], strides[10], i),
            at_<T>(ptr[7], strides[7], i), d0, d1, d2);
        out_<T>(ptr[0], strides[0], i) = d0;
        out_<T>(ptr[1], strides[1], i) = d1;
        out_<T>(ptr[2], strides[2], i) = d2;
        out_<T>(ptr[3], strides[3], i) = dt;
      }
    }
    op.next(strides);
  }
}

at::Tensor plane(const at::Tensor &x, int64_t k) { return x.narrow(1, k, 1); }

// The three channel planes of an image.
std::vector<at::Tensor> planes(const at::Tensor &x) { return {plane(x, 0), plane(x, 1), plane(x, 2)}; }

// A TensorIterator over `outputs` then `inputs` (held by the iterator, so temporaries may be
// passed), the outputs' sizes kept and dtypes left to the loop.
at::TensorIterator iterate(const std::vector<at::Tensor> &outputs,
                           const std::vector<at::Tensor> &inputs) {
  at::TensorIteratorConfig config;
  for (const auto &t : outputs) {
    config.add_owned_output(t);
  }
  for (const auto &t : inputs) {
    config.add_owned_const_input(t);
  }
  return config.check_all_same_dtype(false).resize_outputs(false).build();
}

// `a` then `b`.
std::vector<at::Tensor> cat(std::vector<at::Tensor> a, const std::vector<at::Tensor> &b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Each element's sample: an int64 tensor shaped like `plane` (B,1,…), constant along the
// pixels, for the loops that read one row of per-sample scalars.
at::Tensor sample_index(const at::Tensor &plane) {
  std::vector<int64_t> shape(plane.dim(), 1);
  shape[0] = -1;
  return at::arange(plane.size(0), plane.options().dtype(at::kLong)).view(shape).expand_as(plane);
}

at::Tensor hue_forward(const at::Tensor &x, const at::Tensor &turns) {
  auto out = at::empty_like(x);
  const auto t = turns.view({-1, 1, 1, 1}).expand_as(plane(x, 0));
  auto iter = iterate(planes(out), cat(planes(x), {t}));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dda_hue_rotate",
                             [&] { iter.for_each(hue_forward_loop<scalar_t>); });
  return out;
}

// Gradients of the hue rotation with respect to the image and the turns.
std::vector<at::Tensor> hue_backward(const at::Tensor &x, const at::Tensor &turns,
                                     const at::Tensor &grad_out) {
  auto gx = at::empty_like(x);
  auto gt = at::empty_like(plane(x, 0));
  const auto t = turns.view({-1, 1, 1, 1}).expand_as(gt);
  auto iter = iterate(cat(planes(gx), {gt}), cat(cat(planes(x), {t}), planes(grad_out)));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dda_hue_rotate_backward",
                             [&] { iter.for_each(hue_backward_loop<scalar_t>); });
  // The turns gradient: each sample's pixels summed, in float64.
  auto dturns = gt.sum({1, 2, 3}, false, at::kDouble).to(turns.scalar_type());
  return {gx, dturns};
}

// ColorJitter's steps (torchvision's flavour) without a graph, fused: each row of pixels is
// read once, goes through the listed steps in cache, and is written once. Steps: 0
// brightness `clamp(x·f)`, 1 contrast `clamp(x·f + shift)`, 2 saturation
// `clamp(x·f + (1-f)·gray)`, 3 hue, 4 the input clamp. Every step does the float operations
// of its libtorch composition, in its order.
// Operands: out r, g, b; in r, g, b; the sample's index, which picks its row of `scalars`
// (B,6: brightness, contrast, shift, saturation, 1 - saturation, turns).
template <typename T> struct JitterLoop {
  const int *steps;
  int n_steps;
  const T *scalars;

  void operator()(char **data, const int64_t *strides, int64_t size0, int64_t size1) const {
    Operands<7> op(data, strides, sizeof(T), {6});
    const auto &table = row_table<T>();
    for (int64_t outer = 0; outer < size1; ++outer) {
      if (op.contiguous) {
        T *r = op.row<T>(0), *g = op.row<T>(1), *b = op.row<T>(2);
        if (r != op.row<T>(3)) {
          std::memcpy(r, op.row<const T>(3), size0 * sizeof(T));
          std::memcpy(g, op.row<const T>(4), size0 * sizeof(T));
          std::memcpy(b, op.row<const T>(5), size0 * sizeof(T));
        }
        table.jitter(r, g, b, scalars + 6 * *op.row<const int64_t>(6), steps, n_steps, size0);
      } else {
        char **ptr = op.ptr;
        for (int64_t i = 0; i < size0; ++i) {
          T *o[3];
          for (int k = 0; k < 3; ++k) {
            o[k] = &out_<T>(ptr[k], strides[k], i);
            *o[k] = at_<T>(ptr[3 + k], strides[3 + k], i);
          }
          table.jitter(o[0], o[1], o[2], scalars + 6 * at_<int64_t>(ptr[6], strides[6], i),
                       steps, n_steps, 1);
        }
      }
      op.next(strides);
    }
  }
};

// `steps` on `x` into `out` (which may be `x` itself); `scalars` is (B,6): brightness,
// contrast, shift, saturation, 1 - saturation, turns.
void jitter_steps(const at::Tensor &x, const at::Tensor &out, const at::Tensor &scalars,
                  const int *steps, int n_steps) {
  const auto sc = scalars.contiguous();
  auto iter = iterate(planes(out), cat(planes(x), {sample_index(plane(x, 0))}));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dda_jitter_steps", [&] {
    JitterLoop<scalar_t> loop{steps, n_steps, sc.data_ptr<scalar_t>()};
    iter.for_each(loop);
  });
}

// The scalars of `jitter_steps` (B,6) from the factors (B,4: brightness, contrast,
// saturation, turns) and contrast's shift (B,).
at::Tensor jitter_scalars(const at::Tensor &f, const at::Tensor &shift) {
  const auto fs = f.select(1, 2);
  return at::stack({f.select(1, 0), f.select(1, 1), shift, fs, at::rsub(fs, 1), f.select(1, 3)},
                   1);
}

// Contrast's mean (B,) of a (B,3,H,W) image: its BT.601 gray's, with the operations of
// `gray_mean` in color.rs (so the same values).
at::Tensor gray_mean(const at::Tensor &x) {
  const auto c = x.unbind(1);
  const auto w1 = at::scalar_tensor(0.587, x.options());
  const auto w2 = at::scalar_tensor(0.114, x.options());
  return c[0].mul(0.299).addcmul(c[1], w1).addcmul(c[2], w2).mean({-2, -1}, false, x.scalar_type());
}

int contrast_at(const std::vector<int> &steps) {
  for (size_t k = 0; k < steps.size(); ++k) {
    if (steps[k] == kContrast) {
      return static_cast<int>(k);
    }
  }
  return static_cast<int>(steps.size());
}

// ColorJitter (torchvision's flavour): `steps` (the input clamp first) on a contiguous
// (B,3,H,W) image with factors (B,4), one pass before contrast's mean and one after it.
// Returns the image and contrast's mean (B,) (zeros without a contrast step).
std::pair<at::Tensor, at::Tensor> jitter_forward(const at::Tensor &x, const at::Tensor &f,
                                                 const std::vector<int> &steps) {
  TORCH_CHECK(!steps.empty() && steps.size() <= 5 && steps[0] == kClamp,
              "the steps are the input clamp then at most four others");
  auto out = at::empty_like(x);
  const int n = static_cast<int>(steps.size()), c = contrast_at(steps);
  auto zero = at::zeros({x.size(0)}, x.options());
  jitter_steps(x, out, jitter_scalars(f, zero), steps.data(), c);
  if (c == n) {
    return {out, zero};
  }
  auto m = gray_mean(out);
  jitter_steps(out, out, jitter_scalars(f, m.mul(at::rsub(f.select(1, 1), 1))), steps.data() + c, n - c);
  return {out, m};
}

// The per-sample sums of a backward loop, one vector per call of the loop, keyed by where
// the call starts: added in address order, so in the same order whatever the threads.
class Partials {
public:
  void put(const char *start, std::vector<double> sums) {
    std::lock_guard<std::mutex> lock(mu_);
    parts_[start] = std::move(sums);
  }

  // Adds every call's sums into `acc` (as long as each call's vector).
  void add_to(double *acc) const {
    for (const auto &kv : parts_) {
      for (size_t k = 0; k < kv.second.size(); ++k) {
        acc[k] += kv.second[k];
      }
    }
  }

private:
  std::mutex mu_;
  std::map<const char *, std::vector<double>> parts_;
};

// Pixels per block of the backward: the inputs of every step and the gradient stay in L1.
constexpr int64_t kBlock = 256;

// One backward pass: per block of pixels, the steps [0, end) recomputed from the input,
// then the gradient taken back through steps end-1 … begin. Operands: out d_r, d_g, d_b;
// in r, g, b, the upstream gradient (three planes; may be the output itself), the sample's
// index (int64). `extra` (B,3), when set, is added to the upstream gradient. Each call puts
// its pixels' sums of the factor gradients (B,5) into `partials`.
template <typename T> struct JitterBackwardLoop {
  const int *steps;
  int begin, end;
  const T *scalars;
  const double *extra;
  int64_t batch;
  Partials *partials;

  void operator()(char **data, const int64_t *strides, int64_t size0, int64_t size1) const {
    Operands<10> op(data, strides, sizeof(T), {9});
    char **ptr = op.ptr;
    std::vector<double> local(static_cast<size_t>(batch) * 5, 0.0);
    const auto &table = row_table<T>();
    T z[6][3][kBlock];
    T g[3][kBlock];
    for (int64_t outer = 0; outer < size1; ++outer) {
      int64_t i = 0;
      while (i < size0) {
        const int64_t b = at_<int64_t>(ptr[9], strides[9], i);
        int64_t len = 1;
        while (i + len < size0 && len < kBlock && at_<int64_t>(ptr[9], strides[9], i + len) == b) {
          ++len;
        }
        const T *sc = scalars + 6 * b;
        for (int k = 0; k < 3; ++k) {
          const T add = extra != nullptr ? static_cast<T>(extra[3 * b + k]) : T(0);
          for (int64_t j = 0; j < len; ++j) {
            z[0][k][j] = at_<T>(ptr[3 + k], strides[3 + k], i + j);
            g[k][j] = at_<T>(ptr[6 + k], strides[6 + k], i + j) + add;
          }
        }
        for (int s = 0; s < end; ++s) {
          for (int k = 0; k < 3; ++k) {
            std::memcpy(z[s + 1][k], z[s][k], len * sizeof(T));
          }
          table.jitter(z[s + 1][0], z[s + 1][1], z[s + 1][2], sc, steps + s, 1, len);
        }
        for (int s = end - 1; s >= begin; --s) {
          table.jitter_backward(steps[s], z[s][0], z[s][1], z[s][2], g[0], g[1], g[2], sc, len,
                                &local[5 * b]);
        }
        for (int k = 0; k < 3; ++k) {
          for (int64_t j = 0; j < len; ++j) {
            out_<T>(ptr[k], strides[k], i + j) = g[k][j];
          }
        }
        i += len;
      }
      op.next(strides);
    }
    partials->put(data[0], std::move(local));
  }
};

// One backward pass (see JitterBackwardLoop) into `gx`; adds the factor sums to `acc` (B,5).
void jitter_backward_pass(const at::Tensor &x, const at::Tensor &up, const at::Tensor &gx,
                          const at::Tensor &scalars, const std::vector<int> &steps, int begin,
                          int end, const double *extra, std::vector<double> &acc) {
  const int64_t batch = x.size(0);
  auto iter = iterate(planes(gx), cat(cat(planes(x), planes(up)), {sample_index(plane(x, 0))}));
  Partials partials;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dda_jitter_backward", [&] {
    JitterBackwardLoop<scalar_t> loop{steps.data(), begin, end,      scalars.data_ptr<scalar_t>(),
                                      extra,        batch, &partials};
    iter.for_each(loop);
  });
  partials.add_to(acc.data());
}

// The gradients of `jitter_forward` with respect to the image and the factors (B,4), from
// the output's gradient. Without contrast, one pass; with it, a pass back to contrast's
// input, the share of contrast's mean (a per-sample constant per channel: its gradient over
// the H·W pixels, times the luma weight), and a pass back to the input.
std::pair<at::Tensor, at::Tensor> jitter_backward(const at::Tensor &x, const at::Tensor &f,
                                                  const at::Tensor &m,
                                                  const std::vector<int> &steps,
                                                  const at::Tensor &grad_out) {
  const int64_t batch = x.size(0), pixels = x.size(2) * x.size(3);
  const auto g = upstream(grad_out, x.scalar_type());
  const auto fc = f.select(1, 1);
  const auto scalars = jitter_scalars(f, m.mul(at::rsub(fc, 1))).contiguous();
  auto gx = at::empty_like(x);
  std::vector<double> acc(static_cast<size_t>(batch) * 5, 0.0);
  const int n = static_cast<int>(steps.size()), c = contrast_at(steps);
  if (c == n) {
    jitter_backward_pass(x, g, gx, scalars, steps, 0, n, nullptr, acc);
  } else {
    jitter_backward_pass(x, g, gx, scalars, steps, c, n, nullptr, acc);
    // shift = (1 - fc)·m, m = Σ (0.299 r + 0.587 g + 0.114 b) / (H·W).
    const auto fcd = fc.to(at::kDouble).contiguous(), md = m.to(at::kDouble).contiguous();
    const double *fcp = fcd.data_ptr<double>(), *mp = md.data_ptr<double>();
    const double luma[3] = {0.299, 0.587, 0.114};
    std::vector<double> extra(static_cast<size_t>(batch) * 3);
    for (int64_t b = 0; b < batch; ++b) {
      const double g_shift = acc[5 * b + 4];
      acc[5 * b + 1] -= mp[b] * g_shift;
      const double g_m = (1 - fcp[b]) * g_shift;
      for (int k = 0; k < 3; ++k) {
        extra[3 * b + k] = g_m * luma[k] / static_cast<double>(pixels);
      }
    }
    jitter_backward_pass(x, gx, gx, scalars, steps, 0, c, extra.data(), acc);
  }
  auto gf = at::empty({batch, 4}, f.options().dtype(at::kDouble));
  double *gp = gf.data_ptr<double>();
  for (int64_t b = 0; b < batch; ++b) {
    for (int k = 0; k < 4; ++k) {
      gp[4 * b + k] = acc[5 * b + k];
    }
  }
  return {gx, gf.to(f.scalar_type())};
}

// Inverses of a contiguous batch of 3×3 matrices by the adjugate, with the float operations
// of `inverse3x3` in geometry/mod.rs in their order (so the same values), without a graph.
template <typename T> void inverse3x3_loop(const T *m, T *out, int64_t count) {
  for (int64_t k = 0; k < count; ++k) {
    const T *p = m + 9 * k;
    const T a = p[0], b = p[1], c = p[2], d = p[3], e = p[4], f = p[5], g = p[6], h = p[7],
            i = p[8];
    const T adj[9] = {e * i - f * h, c * h - b * i, b * f - c * e,
                      f * g - d * i, a * i - c * g, c * d - a * f,
                      d * h - e * g, b * g - a * h, a * e - b * d};
    const T det = a * adj[0] + b * adj[3] + c * adj[6];
    T *o = out + 9 * k;
    for (int j = 0; j < 9; ++j) {
      o[j] = adj[j] / det;
    }
  }
}

at::Tensor inverse3x3(const at::Tensor &m) {
  auto out = at::empty_like(m);
  AT_DISPATCH_FLOATING_TYPES(m.scalar_type(), "dda_inverse3x3", [&] {
    inverse3x3_loop<scalar_t>(m.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), m.numel() / 9);
  });
  return out;
}

// ColorJitter as a graph node: the image and the factors (B,4) get their gradients.
struct JitterFn : public torch::autograd::Function<JitterFn> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x,
                            const at::Tensor &f, std::vector<int64_t> steps) {
    const std::vector<int> s(steps.begin(), steps.end());
    auto result = jitter_forward(x, f, s);
    ctx->save_for_backward({x, f, result.second});
    ctx->saved_data["steps"] = steps;
    return result.first;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    once_differentiable("ColorJitter");
    const auto saved = ctx->get_saved_variables();
    const auto steps = ctx->saved_data["steps"].toIntVector();
    const std::vector<int> s(steps.begin(), steps.end());
    auto result = jitter_backward(saved[0], saved[1], saved[2], s, grads[0]);
    return {result.first, result.second, at::Tensor()};
  }
};

// The fast mode's colour map (rows.h `color_map_row`) of a contiguous (B,3,…) image into
// `out`. Operands: out r, g, b; in r, g, b; the sample's index (int64, constant along the
// pixels), which picks its row of `params` (B,18).
template <typename T> struct ColorMapLoop {
  const T *params;

  void operator()(char **data, const int64_t *strides, int64_t size0, int64_t size1) const {
    Operands<7> op(data, strides, sizeof(T), {6});
    const auto &table = row_table<T>();
    for (int64_t outer = 0; outer < size1; ++outer) {
      if (op.contiguous) {
        table.color_map(op.row<T>(0), op.row<T>(1), op.row<T>(2), op.row<const T>(3),
                        op.row<const T>(4), op.row<const T>(5),
                        params + 18 * *op.row<const int64_t>(6), size0);
      } else {
        char **ptr = op.ptr;
        for (int64_t i = 0; i < size0; ++i) {
          table.color_map(&out_<T>(ptr[0], strides[0], i), &out_<T>(ptr[1], strides[1], i),
                          &out_<T>(ptr[2], strides[2], i), &out_<T>(ptr[3], strides[3], i),
                          &out_<T>(ptr[4], strides[4], i), &out_<T>(ptr[5], strides[5], i),
                          params + 18 * at_<int64_t>(ptr[6], strides[6], i), 1);
        }
      }
      op.next(strides);
    }
  }
};

at::Tensor color_map(const at::Tensor &x, const at::Tensor &params) {
  const int64_t b = x.size(0);
  const auto flat = x.view({b, 3, -1});
  auto out = at::empty_like(x);
  const auto oflat = out.view({b, 3, -1});
  auto iter = iterate(planes(oflat), cat(planes(flat), {sample_index(plane(flat, 0))}));
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dda_color_map", [&] {
    ColorMapLoop<scalar_t> loop{params.data_ptr<scalar_t>()};
    iter.for_each(loop);
  });
  return out;
}

// The colour map's backward (rows.h `color_map_backward_row`). Operands: out d r, g, b; in
// x r, g, b; the upstream gradient r, g, b; the sample's index (int64). With `sums`, each
// call puts its pixels' sums of the params' gradients (B,18) into `partials`.
template <typename T> struct ColorMapBackwardLoop {
  const T *params;
  int64_t batch;
  bool sums;
  Partials *partials;

  void operator()(char **data, const int64_t *strides, int64_t size0, int64_t size1) const {
    Operands<10> op(data, strides, sizeof(T), {9});
    const auto &table = row_table<T>();
    std::vector<double> local(sums ? static_cast<size_t>(batch) * 18 : 0, 0.0);
    const auto acc = [&](int64_t b) { return sums ? &local[18 * b] : nullptr; };
    for (int64_t outer = 0; outer < size1; ++outer) {
      if (op.contiguous) {
        const int64_t b = *op.row<const int64_t>(9);
        table.color_map_backward(op.row<T>(0), op.row<T>(1), op.row<T>(2), op.row<const T>(3),
                                 op.row<const T>(4), op.row<const T>(5), op.row<const T>(6),
                                 op.row<const T>(7), op.row<const T>(8), params + 18 * b,
                                 size0, acc(b));
      } else {
        char **ptr = op.ptr;
        for (int64_t i = 0; i < size0; ++i) {
          const int64_t b = at_<int64_t>(ptr[9], strides[9], i);
          T *pix[9];
          for (int k = 0; k < 9; ++k) {
            pix[k] = &out_<T>(ptr[k], strides[k], i);
          }
          table.color_map_backward(pix[0], pix[1], pix[2], pix[3], pix[4], pix[5], pix[6],
                                   pix[7], pix[8], params + 18 * b, 1, acc(b));
        }
      }
      op.next(strides);
    }
    if (sums) {
      partials->put(data[0], std::move(local));
    }
  }
};

// The gradients of `color_map` with respect to the image and, when `sums`, the params
// (B,18; else undefined), from the output's gradient.
std::pair<at::Tensor, at::Tensor> color_map_backward(const at::Tensor &x, const at::Tensor &params,
                                                     const at::Tensor &grad_out, bool sums) {
  const int64_t batch = x.size(0);
  const auto flat = x.view({batch, 3, -1});
  const auto g = upstream(grad_out, x.scalar_type()).view({batch, 3, -1});
  auto gx = at::empty_like(x);
  auto iter = iterate(planes(gx.view({batch, 3, -1})),
                      cat(cat(planes(flat), planes(g)), {sample_index(plane(flat, 0))}));
  Partials partials;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dda_color_map_backward", [&] {
    ColorMapBackwardLoop<scalar_t> loop{params.data_ptr<scalar_t>(), batch, sums, &partials};
    iter.for_each(loop);
  });
  if (!sums) {
    return {gx, at::Tensor()};
  }
  auto gp = at::zeros({batch, 18}, params.options().dtype(at::kDouble));
  partials.add_to(gp.data_ptr<double>());
  return {gx, gp.to(params.scalar_type())};
}

// The fast mode's colour map as a graph node: the image and the params (B,18) get their
// gradients.
struct ColorMapFn : public torch::autograd::Function<ColorMapFn> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x,
                            const at::Tensor &params) {
    ctx->save_for_backward({x, params});
    return color_map(x, params);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    once_differentiable("the fast mode's colour map");
    const auto saved = ctx->get_saved_variables();
    auto result = color_map_backward(saved[0], saved[1], grads[0], ctx->needs_input_grad(1));
    return {result.first, result.second};
  }
};

// A sampling grid from its two parts (p: the terms of every output axis but the last, per
// row of pixels; q: the last axis's term, per sample and pixel), in the one output-sized pass.
// Affine: `out[r, w, :] = p[r, :] + q[r / rows, w, :]`, with `p` (R, n) and `q` (B, W, n).
// Projective: `p` (R, n+1) and `q` (B, W, n+1) hold the homogeneous coordinates, and each
// pixel's n coordinates are divided by its last (see rows.h `project_add_row`). R = B·rows,
// both contiguous; `out` (R, W, n). A nullary TensorIterator over `out` seen as one run of
// elements splits the work between libtorch's threads; each chunk finds its rows from its
// offset.
template <typename T> struct GridLoop {
  const T *base, *p, *q;
  int64_t rows, width;
  int n;
  bool projective;

  void operator()(char **data, const int64_t *strides, int64_t size0, int64_t size1) const {
    const auto &table = row_table<T>();
    const int m = projective ? n + 1 : n;
    const int64_t len = width * n;
    for (int64_t outer = 0; outer < size1; ++outer) {
      const T *first = reinterpret_cast<const T *>(data[0] + outer * strides[1]);
      int64_t k = first - base;
      const int64_t end = k + size0;
      while (k < end) {
        const int64_t row = k / len, start = row * len;
        const int64_t stop = std::min(end, start + len);
        T *o = const_cast<T *>(base) + start;
        const T *pr = p + row * m, *qs = q + (row / rows) * width * m;
        if (projective) {
          table.project_add(o, pr, qs, n, k - start, stop - start);
        } else {
          table.outer_add(o, pr, qs, n, k - start, stop - start);
        }
        k = stop;
      }
    }
  }
};

at::Tensor grid_from_parts(const at::Tensor &p, const at::Tensor &q, bool projective) {
  const int64_t r = p.size(0), m = p.size(1), b = q.size(0), w = q.size(1);
  const int64_t n = projective ? m - 1 : m;
  auto out = at::empty({r, w, n}, p.options());
  auto iter = at::TensorIterator::nullary_op(out);
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "dda_grid", [&] {
    GridLoop<scalar_t> loop{out.data_ptr<scalar_t>(), p.data_ptr<scalar_t>(),
                            q.data_ptr<scalar_t>(),   r / b,
                            w,                        static_cast<int>(n),
                            projective};
    iter.for_each(loop);
  });
  return out;
}

// The taps (rows.h `DdaTaps`) of the pixel coordinates `coords` (B, n) along an axis of
// `size` pixels, clamped into it as border padding does: int64 lo, hi (B, n) and weights.
struct Taps {
  at::Tensor lo, hi, w_lo, w_hi;

  template <typename T> DdaTaps<T> of(int64_t sample) const {
    const int64_t n = lo.size(1);
    return {lo.data_ptr<int64_t>() + sample * n, hi.data_ptr<int64_t>() + sample * n,
            w_lo.data_ptr<T>() + sample * n, w_hi.data_ptr<T>() + sample * n, n};
  }
};

template <typename T> Taps taps(const at::Tensor &coords, int64_t size) {
  const auto c = coords.contiguous();
  Taps t{at::empty(c.sizes(), c.options().dtype(at::kLong)),
         at::empty(c.sizes(), c.options().dtype(at::kLong)), at::empty_like(c),
         at::empty_like(c)};
  const T *p = c.data_ptr<T>();
  int64_t *lo = t.lo.data_ptr<int64_t>(), *hi = t.hi.data_ptr<int64_t>();
  T *w_lo = t.w_lo.data_ptr<T>(), *w_hi = t.w_hi.data_ptr<T>();
  const T last = static_cast<T>(size - 1);
  for (int64_t k = 0; k < c.numel(); ++k) {
    // A NaN coordinate reads the first pixel.
    const T v = p[k] == p[k] ? clamp_to(p[k], T(0), last) : T(0);
    const int64_t f = std::min<int64_t>(static_cast<int64_t>(v), size - 1);
    lo[k] = f;
    hi[k] = std::min<int64_t>(f + 1, size - 1);
    w_hi[k] = v - static_cast<T>(f);
    w_lo[k] = T(1) - w_hi[k];
  }
  return t;
}

// Bilinear resampling of every plane of a contiguous (B,C,H,W) image on a separable grid
// (rows.h `resample_row`) into `out`, or its backward (`g` set: the output's gradient) into
// `out`, the zeroed image gradient. A nullary TensorIterator over the B·C planes' indices
// (grain 1: one plane per element) splits them between libtorch's threads.
template <typename T> struct ResampleLoop {
  const int64_t *base;
  const T *x, *g;
  T *out;
  int64_t channels, h, w;
  const Taps *rows, *cols;

  void operator()(char **data, const int64_t *strides, int64_t size0, int64_t size1) const {
    const auto &table = row_table<T>();
    const int64_t ho = rows->lo.size(1), wo = cols->lo.size(1);
    std::vector<T> tmp(g != nullptr ? w : 0);
    for (int64_t outer = 0; outer < size1; ++outer) {
      const int64_t first = reinterpret_cast<const int64_t *>(data[0] + outer * strides[1]) - base;
      for (int64_t plane = first; plane < first + size0; ++plane) {
        const int64_t b = plane / channels;
        if (g == nullptr) {
          table.resample(out + plane * ho * wo, x + plane * h * w, w, rows->of<T>(b),
                         cols->of<T>(b));
        } else {
          table.resample_backward(out + plane * h * w, g + plane * ho * wo, w, rows->of<T>(b),
                                  cols->of<T>(b), tmp.data());
        }
      }
    }
  }
};

// Runs ResampleLoop over the B·C planes of a (B,C,H,W) image: forward from `x` into `out`,
// or backward (`g`, the output's gradient, set) into `out`, the zeroed image gradient.
template <typename T>
void resample_planes(const at::Tensor &out, const T *x, const T *g, at::IntArrayRef shape,
                     const at::Tensor &ys, const at::Tensor &xs) {
  const int64_t b = shape[0], c = shape[1], h = shape[2], w = shape[3];
  auto index = at::empty({b * c}, out.options().dtype(at::kLong));
  auto iter = at::TensorIterator::nullary_op(index);
  const Taps rows = taps<T>(ys, h), cols = taps<T>(xs, w);
  ResampleLoop<T> loop{index.data_ptr<int64_t>(), x, g, out.data_ptr<T>(), c, h, w, &rows,
                       &cols};
  iter.for_each(loop, 1);
}

// `x` (B,C,H,W) resampled bilinearly at rows `ys` (B,ho) and columns `xs` (B,wo) (pixel
// coordinates).
at::Tensor resample(const at::Tensor &x, const at::Tensor &ys, const at::Tensor &xs) {
  auto out = at::empty({x.size(0), x.size(1), ys.size(1), xs.size(1)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dda_resample", [&] {
    resample_planes<scalar_t>(out, x.data_ptr<scalar_t>(), nullptr, x.sizes(), ys, xs);
  });
  return out;
}

// The gradient of `resample` with respect to an image of `shape`, from the output's.
at::Tensor resample_backward(at::IntArrayRef shape, const at::Tensor &ys, const at::Tensor &xs,
                             const at::Tensor &grad_out) {
  const auto g = upstream(grad_out, ys.scalar_type());
  auto gx = at::zeros(shape, g.options());
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "dda_resample_backward", [&] {
    resample_planes<scalar_t>(gx, nullptr, g.data_ptr<scalar_t>(), shape, ys, xs);
  });
  return gx;
}

// The separable resampling as a graph node: the image gets its gradient (the coordinates,
// crop positions, get none).
struct ResampleFn : public torch::autograd::Function<ResampleFn> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x,
                            const at::Tensor &ys, const at::Tensor &xs) {
    ctx->save_for_backward({ys, xs});
    ctx->saved_data["shape"] = x.sizes().vec();
    return resample(x, ys, xs);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    once_differentiable("the resized crop");
    const auto saved = ctx->get_saved_variables();
    const auto shape = ctx->saved_data["shape"].toIntVector();
    return {resample_backward(shape, saved[0], saved[1], grads[0]), at::Tensor(), at::Tensor()};
  }
};

struct HueRotate : public torch::autograd::Function<HueRotate> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x,
                            const at::Tensor &turns) {
    ctx->save_for_backward({x, turns});
    return hue_forward(x, turns);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    once_differentiable("hue");
    auto saved = ctx->get_saved_variables();
    return hue_backward(saved[0], saved[1], grads[0]);
  }
};

} // namespace

extern "C" {

// The hue of a contiguous (B,3,H,W) float32/float64 CPU image in [0, 1] rotated by `turns`
// (B,) of a turn, same dtype; a graph node when either requires a gradient (and grad mode
// is on).
void *dda_hue_rotate(void *x, void *turns, char **err) {
  return dda::guarded(err, [&] {
    const at::Tensor &xt = *static_cast<at::Tensor *>(x);
    const at::Tensor &tt = *static_cast<at::Tensor *>(turns);
    if (records(xt, tt)) {
      return HueRotate::apply(xt, tt);
    }
    return hue_forward(xt, tt);
  });
}

// ColorJitter (torchvision's flavour) on a contiguous (B,3,H,W) float CPU image `x` in [0, 1]
// or not (the input clamp is the first step), with `factors` (B,4) of x's dtype: brightness,
// contrast, saturation, hue turns; `steps` are the `JitterStep` codes, the input clamp
// first. A graph node when either requires a gradient (and grad mode is on). A new tensor,
// or null with `err`.
void *dda_jitter(void *x, void *factors, const int *steps, int n_steps, char **err) {
  return dda::guarded(err, [&] {
    const at::Tensor &xt = *static_cast<at::Tensor *>(x);
    const at::Tensor &ft = *static_cast<at::Tensor *>(factors);
    if (records(xt, ft)) {
      return JitterFn::apply(xt, ft, std::vector<int64_t>(steps, steps + n_steps));
    }
    return jitter_forward(xt, ft, std::vector<int>(steps, steps + n_steps)).first;
  });
}

// The fast mode's colour map of a contiguous (B,3,…) float CPU image `x`: per sample,
// out_c = clamp(Σ_k M[c][k]·x_k + bias_c, lo_c, hi_c), with `params` (B,18) contiguous, x's
// dtype: M (row-major), bias, lo, hi. A graph node when either requires a gradient (and
// grad mode is on). A new tensor, or null with `err`.
void *dda_color_map(void *x, void *params, char **err) {
  return dda::guarded(err, [&] {
    const at::Tensor &xt = *static_cast<at::Tensor *>(x);
    const at::Tensor &pt = *static_cast<at::Tensor *>(params);
    if (records(xt, pt)) {
      return ColorMapFn::apply(xt, pt);
    }
    return color_map(xt, pt);
  });
}

// `x`, a contiguous (B,C,H,W) float CPU image, resampled bilinearly on a separable grid:
// rows `ys` (B,ho) and columns `xs` (B,wo), pixel coordinates of x's dtype, clamped into
// the image. A graph node when `x` requires a gradient (and grad mode is on). A new tensor,
// or null with `err`.
void *dda_resample(void *x, void *ys, void *xs, char **err) {
  return dda::guarded(err, [&] {
    const at::Tensor &xt = *static_cast<at::Tensor *>(x);
    const at::Tensor &yt = *static_cast<at::Tensor *>(ys);
    const at::Tensor &st = *static_cast<at::Tensor *>(xs);
    if (records(xt)) {
      return ResampleFn::apply(xt, yt, st);
    }
    return resample(xt, yt, st);
  });
}

// A sampling grid from its parts (see `grid_from_parts`) for contiguous float CPU tensors `p`
// (R, m) and `q` (B, W, m), R a multiple of B, without a graph: affine (m = n) or projective
// (m = n + 1). A new (R, W, n) tensor, or null with `err`.
void *dda_grid(void *p, void *q, int projective, char **err) {
  return dda::guarded(err, [&] {
    return grid_from_parts(*static_cast<at::Tensor *>(p), *static_cast<at::Tensor *>(q),
                           projective != 0);
  });
}

// Inverses of a contiguous float CPU batch (…,3,3) of matrices (see `inverse3x3`), without
// a graph. A new tensor, or null with `err`.
void *dda_inverse3x3(void *m, char **err) {
  return dda::guarded(err, [&] { return inverse3x3(*static_cast<at::Tensor *>(m)); });
}

// The instruction set of the row loops in use ("base", "avx2").
const char *dda_cpu_kernels_isa() { return rows().isa; }

} // extern "C"
