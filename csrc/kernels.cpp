// Fused CPU kernels for the steps whose libtorch composition is many passes over the image.
//
// `dda_hue_rotate(x, turns)`: the hue rotation of `src/intensity/color.rs` (`adjust_hue`),
// one pass forward and one pass backward instead of about twenty-five of each. It is a
// `torch::autograd::Function`: the result carries a graph node whose backward gives the
// gradients with respect to the image and to the per-sample turns, with the subgradients
// libtorch's own ops give the composition (amax/amin share the gradient between tied
// channels; clamp passes it on its closed interval; abs has sign 0 at 0). Every float
// operation is the composition's, in its order and in the image's dtype, so the forward
// values equal the composition's.
//
// Only contiguous float32/float64 CPU tensors come here; other devices keep the
// composition (the Rust side decides). Exceptions are reported through `err`, as in
// generator.cpp.

#include <ATen/Dispatch.h>
#include <ATen/TensorIterator.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include "error.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

namespace {


// One pixel's hue rotation: the intermediate values both passes need.
template <typename T> struct HuePixel {
  // `arg`: the first channel holding the maximum (0, 1 or 2), as a float.
  T v, mn, delta, dd, vs, diff, h, arg;
  T kk[3];
};

// floor(t), exact for |t| < 2^53 (here |t| < 3), without a libm call.
template <typename T> inline T floor_small(T t) {
  T f = static_cast<T>(static_cast<int32_t>(t));
  return f > t ? f - T(1) : f;
}

// The composition's arithmetic, step by step (see adjust_hue in color.rs).
template <typename T> inline HuePixel<T> hue_pixel(T r, T g, T b, T turns) {
  HuePixel<T> p;
  p.v = std::max(r, std::max(g, b));
  p.mn = std::min(r, std::min(g, b));
  p.delta = p.v - p.mn;
  p.vs = p.v * (p.delta / (p.v + static_cast<T>(1e-8)));
  p.dd = p.delta + (p.delta == T(0) ? T(1) : T(0));
  // The first channel holding the maximum: r, then g, then b.
  const bool r_max = r == p.v, g_max = g == p.v;
  p.arg = r_max ? T(0) : (g_max ? T(1) : T(2));
  p.diff = r_max ? g - b : (g_max ? b - r : r - g);
  p.h = (p.diff + p.arg * T(2) * p.dd) / p.dd;
  T t = p.h / T(6) + turns;
  T h6 = (t - floor_small(t)) * T(6);
  const T n[3] = {T(5), T(3), T(1)};
  for (int k = 0; k < 3; ++k) {
    // remainder(n + h6, 6): n + h6 lies in [0, 12), where it is one exact subtraction.
    T a = n[k] + h6;
    p.kk[k] = (a >= T(6) ? a - T(6) : a) - T(2);
  }
  return p;
}

template <typename T> inline T clamp12(T k) {
  T a = k < T(0) ? -k : k;
  return std::min(std::max(a, T(1)), T(2));
}

// d clamp(|k|, 1, 2) / dk as libtorch's abs and clamp backward give it.
template <typename T> inline T dclamp12(T k) {
  T a = k < T(0) ? -k : k;
  T sign = k > T(0) ? T(1) : (k < T(0) ? T(-1) : T(0));
  return (a >= T(1) && a <= T(2)) ? sign : T(0);
}

// The loops run under `TensorIterator::for_each`, which libtorch parallelises over its
// own thread pool. Operands are the three channel planes (B,1,H,W) of each image, and the
// per-sample turns expanded to a plane (stride 0 along the pixels). `data[i]` and
// `strides[i]` (bytes, inner dimension; `strides[n + i]` outer) follow the order in which
// the operands were added: outputs first.
template <typename T> inline T at_(char *base, int64_t stride, int64_t i) {
  return *reinterpret_cast<T *>(base + i * stride);
}

template <typename T> inline T &out_(char *base, int64_t stride, int64_t i) {
  return *reinterpret_cast<T *>(base + i * stride);
}

// Forward: operands out_r, out_g, out_b, r, g, b, turns.
template <typename T>
void hue_forward_loop(char **data, const int64_t *strides, int64_t size0, int64_t size1) {
  constexpr int n = 7;
  char *ptr[n];
  for (int j = 0; j < n; ++j) {
    ptr[j] = data[j];
  }
  const int64_t e = sizeof(T);
  bool contiguous = strides[6] == 0;
  for (int j = 0; j < 6; ++j) {
    contiguous = contiguous && strides[j] == e;
  }
  for (int64_t outer = 0; outer < size1; ++outer) {
    if (contiguous) {
      T *o0 = reinterpret_cast<T *>(ptr[0]), *o1 = reinterpret_cast<T *>(ptr[1]),
        *o2 = reinterpret_cast<T *>(ptr[2]);
      const T *r = reinterpret_cast<const T *>(ptr[3]),
              *g = reinterpret_cast<const T *>(ptr[4]),
              *b = reinterpret_cast<const T *>(ptr[5]);
      const T turn = *reinterpret_cast<const T *>(ptr[6]);
#pragma omp simd
      for (int64_t i = 0; i < size0; ++i) {
        auto p = hue_pixel<T>(r[i], g[i], b[i], turn);
        const T base = p.v - p.vs * T(2);
        o0[i] = clamp12(p.kk[0]) * p.vs + base;
        o1[i] = clamp12(p.kk[1]) * p.vs + base;
        o2[i] = clamp12(p.kk[2]) * p.vs + base;
      }
    } else {
      for (int64_t i = 0; i < size0; ++i) {
        auto p = hue_pixel<T>(at_<T>(ptr[3], strides[3], i), at_<T>(ptr[4], strides[4], i),
                              at_<T>(ptr[5], strides[5], i), at_<T>(ptr[6], strides[6], i));
        const T base = p.v - p.vs * T(2);
        for (int k = 0; k < 3; ++k) {
          out_<T>(ptr[k], strides[k], i) = clamp12(p.kk[k]) * p.vs + base;
        }
      }
    }
    for (int j = 0; j < n; ++j) {
      ptr[j] += strides[n + j];
    }
  }
}

// One pixel's backward: the image gradient (d0, d1, d2) and the turns gradient (returned),
// from the upstream gradient (g0, g1, g2) of the three outputs.
template <typename T>
inline T hue_pixel_backward(T r, T g, T b, T g0, T g1, T g2, T turn, T &d0, T &d1, T &d2) {
  auto p = hue_pixel<T>(r, g, b, turn);
  // out_k = clamp(|kk_k|, 1, 2)·vs + (v - 2·vs)
  T g_v = g0 + g1 + g2;
  const T g_vs = g0 * (clamp12(p.kk[0]) - T(2)) + g1 * (clamp12(p.kk[1]) - T(2)) +
                 g2 * (clamp12(p.kk[2]) - T(2));
  const T g_h6 = (g0 * dclamp12(p.kk[0]) + g1 * dclamp12(p.kk[1]) + g2 * dclamp12(p.kk[2])) * p.vs;
  // h6 = frac(h/6 + turns)·6: d/dturns = 6, d/dh = 1.
  const T g_h = g_h6;
  // h = (diff + 2·arg·dd) / dd
  const T g_diff = g_h / p.dd;
  T g_delta = -g_h * p.diff / (p.dd * p.dd);
  // vs = v·(delta / (v + eps))
  const T ve = p.v + static_cast<T>(1e-8);
  g_delta += g_vs * (p.v / ve);
  g_v += g_vs * (p.delta / ve - p.v * p.delta / (ve * ve));
  // delta = v - min
  g_v += g_delta;
  const T g_mn = -g_delta;
  // amax and amin share their gradient between tied channels.
  const T n_max = T(r == p.v) + T(g == p.v) + T(b == p.v);
  const T n_min = T(r == p.mn) + T(g == p.mn) + T(b == p.mn);
  const T share_v = g_v / n_max, share_mn = g_mn / n_min;
  // diff = next - previous channel of the maximum's channel: g - b, b - r or r - g.
  const bool a0 = p.arg == T(0), a1 = p.arg == T(1), a2 = p.arg == T(2);
  d0 = (r == p.v ? share_v : T(0)) + (r == p.mn ? share_mn : T(0)) +
       (a2 ? g_diff : (a1 ? -g_diff : T(0)));
  d1 = (g == p.v ? share_v : T(0)) + (g == p.mn ? share_mn : T(0)) +
       (a0 ? g_diff : (a2 ? -g_diff : T(0)));
  d2 = (b == p.v ? share_v : T(0)) + (b == p.mn ? share_mn : T(0)) +
       (a1 ? g_diff : (a0 ? -g_diff : T(0)));
  return g_h6 * T(6);
}

// Backward: operands d_r, d_g, d_b, d_turns (per pixel), r, g, b, turns, g_r, g_g, g_b.
template <typename T>
void hue_backward_loop(char **data, const int64_t *strides, int64_t size0, int64_t size1) {
  constexpr int n = 11;
  char *ptr[n];
  for (int j = 0; j < n; ++j) {
    ptr[j] = data[j];
  }
  const int64_t e = sizeof(T);
  bool contiguous = strides[7] == 0;
  for (int j = 0; j < n; ++j) {
    contiguous = contiguous && (j == 7 || strides[j] == e);
  }
  for (int64_t outer = 0; outer < size1; ++outer) {
    if (contiguous) {
      T *o[4];
      const T *in[7];
      for (int j = 0; j < 4; ++j) {
        o[j] = reinterpret_cast<T *>(ptr[j]);
      }
      for (int j = 0; j < 7; ++j) {
        in[j] = reinterpret_cast<const T *>(ptr[4 + j]);
      }
      const T turn = in[3][0];
      T *o0 = o[0], *o1 = o[1], *o2 = o[2], *o3 = o[3];
      const T *r = in[0], *gg = in[1], *b = in[2], *g0 = in[4], *g1 = in[5], *g2 = in[6];
#pragma omp simd
      for (int64_t i = 0; i < size0; ++i) {
        T d0, d1, d2;
        o3[i] = hue_pixel_backward<T>(r[i], gg[i], b[i], g0[i], g1[i], g2[i], turn, d0, d1, d2);
        o0[i] = d0;
        o1[i] = d1;
        o2[i] = d2;
      }
      for (int j = 0; j < n; ++j) {
        ptr[j] += strides[n + j];
      }
      continue;
    }
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
    for (int j = 0; j < n; ++j) {
      ptr[j] += strides[n + j];
    }
  }
}

at::Tensor plane(const at::Tensor &x, int64_t k) { return x.narrow(1, k, 1); }

at::Tensor hue_forward(const at::Tensor &x, const at::Tensor &turns) {
  auto out = at::empty_like(x);
  const auto o0 = plane(out, 0), o1 = plane(out, 1), o2 = plane(out, 2);
  const auto r = plane(x, 0), g = plane(x, 1), b = plane(x, 2);
  const auto t = turns.view({-1, 1, 1, 1}).expand_as(r);
  auto iter = at::TensorIteratorConfig()
                  .add_output(o0)
                  .add_output(o1)
                  .add_output(o2)
                  .add_const_input(r)
                  .add_const_input(g)
                  .add_const_input(b)
                  .add_const_input(t)
                  .resize_outputs(false)
                  .build();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dda_hue_rotate",
                             [&] { iter.for_each(hue_forward_loop<scalar_t>); });
  return out;
}

// Gradients of the hue rotation with respect to the image and the turns.
std::vector<at::Tensor> hue_backward(const at::Tensor &x, const at::Tensor &turns,
                                     const at::Tensor &grad_out) {
  auto gx = at::empty_like(x);
  auto gt = at::empty_like(plane(x, 0));
  const auto d0 = plane(gx, 0), d1 = plane(gx, 1), d2 = plane(gx, 2);
  const auto r = plane(x, 0), g = plane(x, 1), b = plane(x, 2);
  const auto t = turns.view({-1, 1, 1, 1}).expand_as(r);
  const auto g0 = plane(grad_out, 0), g1 = plane(grad_out, 1), g2 = plane(grad_out, 2);
  auto iter = at::TensorIteratorConfig()
                  .add_output(d0)
                  .add_output(d1)
                  .add_output(d2)
                  .add_output(gt)
                  .add_const_input(r)
                  .add_const_input(g)
                  .add_const_input(b)
                  .add_const_input(t)
                  .add_const_input(g0)
                  .add_const_input(g1)
                  .add_const_input(g2)
                  .resize_outputs(false)
                  .build();
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
enum JitterStep { kBrightness = 0, kContrast = 1, kSaturation = 2, kHue = 3, kClamp = 4 };

template <typename T> inline T clamp01(T v) { return std::min(std::max(v, T(0)), T(1)); }

// Operands: out r, g, b; in r, g, b; per-sample brightness, contrast, shift, saturation,
// 1 - saturation, turns (expanded planes).
template <typename T> struct JitterLoop {
  const int *steps;
  int n_steps;
  T luma[3];

  void operator()(char **data, const int64_t *strides, int64_t size0, int64_t size1) const {
    constexpr int n = 12;
    char *ptr[n];
    for (int j = 0; j < n; ++j) {
      ptr[j] = data[j];
    }
    const int64_t e = sizeof(T);
    bool contiguous = true;
    for (int j = 0; j < 6; ++j) {
      contiguous = contiguous && strides[j] == e;
    }
    for (int j = 6; j < n; ++j) {
      contiguous = contiguous && strides[j] == 0;
    }
    for (int64_t outer = 0; outer < size1; ++outer) {
      if (contiguous) {
        row(reinterpret_cast<T *>(ptr[0]), reinterpret_cast<T *>(ptr[1]),
            reinterpret_cast<T *>(ptr[2]), reinterpret_cast<const T *>(ptr[3]),
            reinterpret_cast<const T *>(ptr[4]), reinterpret_cast<const T *>(ptr[5]),
            ptr + 6, size0);
      } else {
        for (int64_t i = 0; i < size0; ++i) {
          char *one[12];
          for (int j = 0; j < n; ++j) {
            one[j] = ptr[j] + i * strides[j];
          }
          T r = *reinterpret_cast<T *>(one[3]), g = *reinterpret_cast<T *>(one[4]),
            b = *reinterpret_cast<T *>(one[5]);
          T *o0 = reinterpret_cast<T *>(one[0]), *o1 = reinterpret_cast<T *>(one[1]),
            *o2 = reinterpret_cast<T *>(one[2]);
          *o0 = r;
          *o1 = g;
          *o2 = b;
          row(o0, o1, o2, o0, o1, o2, one + 6, 1);
        }
      }
      for (int j = 0; j < n; ++j) {
        ptr[j] += strides[n + j];
      }
    }
  }

  // One row of `len` pixels of one sample: in → out, then every step in place.
  void row(T *r, T *g, T *b, const T *ir, const T *ig, const T *ib, char **scalars,
           int64_t len) const {
    const T fb = *reinterpret_cast<const T *>(scalars[0]);
    const T fc = *reinterpret_cast<const T *>(scalars[1]);
    const T shift = *reinterpret_cast<const T *>(scalars[2]);
    const T fs = *reinterpret_cast<const T *>(scalars[3]);
    const T fs1 = *reinterpret_cast<const T *>(scalars[4]);
    const T turn = *reinterpret_cast<const T *>(scalars[5]);
    if (r != ir) {
      std::copy(ir, ir + len, r);
      std::copy(ig, ig + len, g);
      std::copy(ib, ib + len, b);
    }
    const T w0 = luma[0], w1 = luma[1], w2 = luma[2];
    for (int k = 0; k < n_steps; ++k) {
      switch (steps[k]) {
      case kClamp:
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) {
          r[i] = clamp01(r[i]);
          g[i] = clamp01(g[i]);
          b[i] = clamp01(b[i]);
        }
        break;
      case kBrightness:
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) {
          r[i] = clamp01(r[i] * fb);
          g[i] = clamp01(g[i] * fb);
          b[i] = clamp01(b[i] * fb);
        }
        break;
      case kContrast:
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) {
          r[i] = clamp01(r[i] * fc + shift);
          g[i] = clamp01(g[i] * fc + shift);
          b[i] = clamp01(b[i] * fc + shift);
        }
        break;
      case kSaturation:
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) {
          const T gray = fs1 * (r[i] * w0 + g[i] * w1 + b[i] * w2);
          r[i] = clamp01(r[i] * fs + gray);
          g[i] = clamp01(g[i] * fs + gray);
          b[i] = clamp01(b[i] * fs + gray);
        }
        break;
      default:
#pragma omp simd
        for (int64_t i = 0; i < len; ++i) {
          auto p = hue_pixel<T>(r[i], g[i], b[i], turn);
          const T base = p.v - p.vs * T(2);
          r[i] = clamp12(p.kk[0]) * p.vs + base;
          g[i] = clamp12(p.kk[1]) * p.vs + base;
          b[i] = clamp12(p.kk[2]) * p.vs + base;
        }
        break;
      }
    }
  }
};

// `steps` on `x` into `out` (which may be `x` itself); `scalars` is (B,6): brightness,
// contrast, shift, saturation, 1 - saturation, turns.
void jitter_steps(const at::Tensor &x, const at::Tensor &out, const at::Tensor &scalars,
                  const int *steps, int n_steps) {
  const auto o0 = plane(out, 0), o1 = plane(out, 1), o2 = plane(out, 2);
  const auto r = plane(x, 0), g = plane(x, 1), b = plane(x, 2);
  std::vector<at::Tensor> s;
  for (int64_t j = 0; j < 6; ++j) {
    s.push_back(scalars.select(1, j).view({-1, 1, 1, 1}).expand_as(r));
  }
  auto config = at::TensorIteratorConfig();
  config.add_output(o0).add_output(o1).add_output(o2);
  config.add_const_input(r).add_const_input(g).add_const_input(b);
  for (const auto &t : s) {
    config.add_const_input(t);
  }
  auto iter = config.resize_outputs(false).build();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "dda_jitter_steps", [&] {
    JitterLoop<scalar_t> loop{steps, n_steps, {scalar_t(0.299), scalar_t(0.587), scalar_t(0.114)}};
    iter.for_each(loop);
  });
}

struct HueRotate : public torch::autograd::Function<HueRotate> {
  static at::Tensor forward(torch::autograd::AutogradContext *ctx, const at::Tensor &x,
                            const at::Tensor &turns) {
    ctx->save_for_backward({x, turns});
    return hue_forward(x, turns);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext *ctx,
                                                 torch::autograd::variable_list grads) {
    auto saved = ctx->get_saved_variables();
    return hue_backward(saved[0], saved[1], grads[0]);
  }
};

} // namespace

extern "C" {

// The hue of a contiguous (B,3,H,W) float32/float64 CPU image in [0, 1] rotated by `turns`
// (B,) of a turn, same dtype; a graph node when either requires a gradient.
void *dda_hue_rotate(void *x, void *turns, char **err) {
  return dda::guarded(err, [&] {
    const at::Tensor &xt = *static_cast<at::Tensor *>(x);
    const at::Tensor &tt = *static_cast<at::Tensor *>(turns);
    if (xt.requires_grad() || tt.requires_grad()) {
      return HueRotate::apply(xt, tt);
    }
    return hue_forward(xt, tt);
  });
}

// ColorJitter's `steps` (see `jitter_steps`) on a contiguous (B,3,H,W) float CPU image `x`
// into `out` (same shape and dtype; may be `x`), without a graph. Returns 0 on success.
int dda_jitter_steps(void *x, void *out, void *scalars, const int *steps, int n_steps,
                     char **err) {
  return dda::guarded_status(err, [&] {
    jitter_steps(*static_cast<at::Tensor *>(x), *static_cast<at::Tensor *>(out),
                 *static_cast<at::Tensor *>(scalars), steps, n_steps);
  });
}

} // extern "C"
