// The per-pixel arithmetic of the fused kernels and their contiguous row loops, with no
// libtorch (or standard library) code in them: `rows_isa.cpp` compiles them once per
// instruction set (baseline, AVX2), and `kernels.cpp` picks the widest one the CPU has at
// first use (`dda_rows`). Everything here has internal linkage, so no inline function of a
// wider instruction set can stand in for a baseline one at link time.
//
// Every float operation is the libtorch composition's, in its order and in the image's dtype
// (the colour map's sums and the resampling's taps aside: within float rounding of it), with
// no contraction into fused multiply-adds (the kernels are compiled with
// -ffp-contract=off), so the values and image gradients do not depend on the instruction
// set. The per-sample sums of the backward loops (`omp simd` reductions) are added in the
// vector width's order: they may differ between sets in the last bits.

#pragma once

#include <cstdint>

// The two source pixels of each output pixel along one axis of a separable bilinear
// resampling, and their weights: out[k] = x[lo[k]]·w_lo[k] + x[hi[k]]·w_hi[k].
template <typename T> struct DdaTaps {
  const int64_t *lo, *hi;
  const T *w_lo, *w_hi;
  int64_t n;
};

// One table of row loops for one dtype. Pointers are to contiguous rows of `len` pixels.
template <typename T> struct DdaRowTable {
  // Hue rotation: out (o0, o1, o2) from (r, g, b) by `turn` of a turn.
  void (*hue_forward)(T *o0, T *o1, T *o2, const T *r, const T *g, const T *b, T turn,
                      int64_t len);
  // Its backward: image gradient (d0, d1, d2) and the per-pixel turns gradient dt from the
  // upstream gradient (g0, g1, g2).
  void (*hue_backward)(T *d0, T *d1, T *d2, T *dt, const T *r, const T *g, const T *b,
                       const T *g0, const T *g1, const T *g2, T turn, int64_t len);
  // ColorJitter's `steps` in place on (r, g, b); `scalars`: brightness, contrast, shift,
  // saturation, 1 - saturation, turns.
  void (*jitter)(T *r, T *g, T *b, const T *scalars, const int *steps, int n_steps,
                 int64_t len);
  // The fast mode's colour map: out_c = clamp(Σ_k m[c][k]·in_k + bias_c, lo_c, hi_c);
  // `p` holds m (row-major 3×3), bias (3), lo (3), hi (3).
  void (*color_map)(T *o0, T *o1, T *o2, const T *r, const T *g, const T *b, const T *p,
                    int64_t len);
  // Its backward, by libtorch's clamp backward: the image gradient (d0, d1, d2) from the
  // upstream gradient (g0, g1, g2); `acc` (18, or null) gains the pixels' sums of the
  // gradients of p's entries.
  void (*color_map_backward)(T *d0, T *d1, T *d2, const T *r, const T *g, const T *b,
                             const T *g0, const T *g1, const T *g2, const T *p, int64_t len,
                             double *acc);
  // One ColorJitter step's backward (a `JitterStep` code) over `len` pixels: `z` the step's
  // input, `g` the gradient of its output, replaced in place by the gradient of its input;
  // `acc` gains the pixels' sums of the gradients of brightness, contrast, saturation, the
  // turns and contrast's shift (in that order).
  void (*jitter_backward)(int step, const T *z0, const T *z1, const T *z2, T *g0, T *g1, T *g2,
                          const T *scalars, int64_t len, double *acc);
  // One row of an outer sum (an affine sampling grid): elements [c0, c1) of a row of pixels
  // of `n` coordinates, o[c] = p[c mod n] + q[c].
  void (*outer_add)(T *o, const T *p, const T *q, int n, int64_t c0, int64_t c1);
  // One row of a projective sampling grid: elements [c0, c1) of a row of pixels of `n`
  // coordinates, o[c] = (p[r] + q[j(n+1) + r])·s_j for pixel j = c / n and r = c mod n, where
  // s_j is the reciprocal of the pixel's last homogeneous coordinate p[n] + q[j(n+1) + n]
  // (1 where its magnitude is at most 1e-8).
  void (*project_add)(T *o, const T *p, const T *q, int n, int64_t c0, int64_t c1);
  // Bilinear resampling of one contiguous plane `x` of width `w` on a separable grid: out
  // (rows.n × cols.n, contiguous) from the rows' and the columns' taps.
  void (*resample)(T *out, const T *x, int64_t w, DdaTaps<T> rows, DdaTaps<T> cols);
  // Its backward: adds the gradient of `x` to `gx` (the plane, zeroed by the caller) from
  // the output's gradient `g`; `tmp` is scratch of `w`.
  void (*resample_backward)(T *gx, const T *g, int64_t w, DdaTaps<T> rows, DdaTaps<T> cols,
                            T *tmp);
};

// Both dtypes' tables, and the instruction set they were compiled for.
struct DdaRows {
  DdaRowTable<float> f;
  DdaRowTable<double> d;
  const char *isa;
};

namespace {

// std::max / std::min's semantics (a NaN first argument is kept), without <algorithm>.
template <typename T> inline T mx(T a, T b) { return a < b ? b : a; }
template <typename T> inline T mn(T a, T b) { return b < a ? b : a; }

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
  p.v = mx(r, mx(g, b));
  p.mn = mn(r, mn(g, b));
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
  return mn(mx(a, T(1)), T(2));
}

// d clamp(|k|, 1, 2) / dk as libtorch's abs and clamp backward give it.
template <typename T> inline T dclamp12(T k) {
  T a = k < T(0) ? -k : k;
  T sign = k > T(0) ? T(1) : (k < T(0) ? T(-1) : T(0));
  return (a >= T(1) && a <= T(2)) ? sign : T(0);
}

template <typename T> inline T clamp01(T v) { return mn(mx(v, T(0)), T(1)); }

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

// The hue rotation's output for one pixel, channel k.
template <typename T> inline T hue_out(const HuePixel<T> &p, int k) {
  return clamp12(p.kk[k]) * p.vs + (p.v - p.vs * T(2));
}

template <typename T>
void hue_forward_row(T *o0, T *o1, T *o2, const T *r, const T *g, const T *b, T turn,
                     int64_t len) {
#pragma omp simd
  for (int64_t i = 0; i < len; ++i) {
    auto p = hue_pixel<T>(r[i], g[i], b[i], turn);
    o0[i] = hue_out(p, 0);
    o1[i] = hue_out(p, 1);
    o2[i] = hue_out(p, 2);
  }
}

template <typename T>
void hue_backward_row(T *d0, T *d1, T *d2, T *dt, const T *r, const T *g, const T *b,
                      const T *g0, const T *g1, const T *g2, T turn, int64_t len) {
#pragma omp simd
  for (int64_t i = 0; i < len; ++i) {
    T a0, a1, a2;
    dt[i] = hue_pixel_backward<T>(r[i], g[i], b[i], g0[i], g1[i], g2[i], turn, a0, a1, a2);
    d0[i] = a0;
    d1[i] = a1;
    d2[i] = a2;
  }
}

// ColorJitter's step codes (see `jitter_steps` in kernels.cpp).
enum JitterStep { kBrightness = 0, kContrast = 1, kSaturation = 2, kHue = 3, kClamp = 4 };

template <typename T>
void jitter_row(T *r, T *g, T *b, const T *scalars, const int *steps, int n_steps,
                int64_t len) {
  const T fb = scalars[0], fc = scalars[1], shift = scalars[2], fs = scalars[3],
          fs1 = scalars[4], turn = scalars[5];
  // Rec. 601 luma, as rgb_to_grayscale.
  const T w0 = T(0.299), w1 = T(0.587), w2 = T(0.114);
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
      // In place: each pixel is read before it is written.
      hue_forward_row(r, g, b, r, g, b, turn, len);
      break;
    }
  }
}

// 1 where clamp(a, 0, 1) passes its gradient on (libtorch's clamp backward: the closed
// interval), else 0.
template <typename T> inline bool inside01(T a) { return a >= T(0) && a <= T(1); }

template <typename T>
void jitter_backward_row(int step, const T *z0, const T *z1, const T *z2, T *g0, T *g1, T *g2,
                         const T *scalars, int64_t len, double *acc) {
  const T fb = scalars[0], fc = scalars[1], shift = scalars[2], fs = scalars[3],
          fs1 = scalars[4], turn = scalars[5];
  const T w0 = T(0.299), w1 = T(0.587), w2 = T(0.114);
  switch (step) {
  case kClamp:
#pragma omp simd
    for (int64_t i = 0; i < len; ++i) {
      g0[i] = inside01(z0[i]) ? g0[i] : T(0);
      g1[i] = inside01(z1[i]) ? g1[i] : T(0);
      g2[i] = inside01(z2[i]) ? g2[i] : T(0);
    }
    break;
  case kBrightness: {
    // y = clamp(z·f)
    T sf = T(0);
#pragma omp simd reduction(+ : sf)
    for (int64_t i = 0; i < len; ++i) {
      const T a0 = inside01(z0[i] * fb) ? g0[i] : T(0);
      const T a1 = inside01(z1[i] * fb) ? g1[i] : T(0);
      const T a2 = inside01(z2[i] * fb) ? g2[i] : T(0);
      sf += a0 * z0[i] + a1 * z1[i] + a2 * z2[i];
      g0[i] = a0 * fb;
      g1[i] = a1 * fb;
      g2[i] = a2 * fb;
    }
    acc[0] += sf;
    break;
  }
  case kContrast: {
    // y = clamp(z·f + shift); the shift's own gradient (through the mean) is the caller's.
    T sf = T(0), ss = T(0);
#pragma omp simd reduction(+ : sf, ss)
    for (int64_t i = 0; i < len; ++i) {
      const T a0 = inside01(z0[i] * fc + shift) ? g0[i] : T(0);
      const T a1 = inside01(z1[i] * fc + shift) ? g1[i] : T(0);
      const T a2 = inside01(z2[i] * fc + shift) ? g2[i] : T(0);
      sf += a0 * z0[i] + a1 * z1[i] + a2 * z2[i];
      ss += a0 + a1 + a2;
      g0[i] = a0 * fc;
      g1[i] = a1 * fc;
      g2[i] = a2 * fc;
    }
    acc[1] += sf;
    acc[4] += ss;
    break;
  }
  case kSaturation: {
    // y = clamp(z·f + (1-f)·gray(z))
    T sf = T(0);
#pragma omp simd reduction(+ : sf)
    for (int64_t i = 0; i < len; ++i) {
      const T y = z0[i] * w0 + z1[i] * w1 + z2[i] * w2;
      const T gray = fs1 * y;
      const T a0 = inside01(z0[i] * fs + gray) ? g0[i] : T(0);
      const T a1 = inside01(z1[i] * fs + gray) ? g1[i] : T(0);
      const T a2 = inside01(z2[i] * fs + gray) ? g2[i] : T(0);
      const T sa = a0 + a1 + a2;
      sf += a0 * z0[i] + a1 * z1[i] + a2 * z2[i] - sa * y;
      const T t = fs1 * sa;
      g0[i] = a0 * fs + w0 * t;
      g1[i] = a1 * fs + w1 * t;
      g2[i] = a2 * fs + w2 * t;
    }
    acc[2] += sf;
    break;
  }
  default: {
    T st = T(0);
#pragma omp simd reduction(+ : st)
    for (int64_t i = 0; i < len; ++i) {
      T d0, d1, d2;
      st += hue_pixel_backward<T>(z0[i], z1[i], z2[i], g0[i], g1[i], g2[i], turn, d0, d1, d2);
      g0[i] = d0;
      g1[i] = d1;
      g2[i] = d2;
    }
    acc[3] += st;
    break;
  }
  }
}

// clamp(v, lo, hi) as libtorch's clamp: min(max(v, lo), hi) (hi where lo > hi), and a NaN
// stays NaN.
template <typename T> inline T clamp_to(T v, T lo, T hi) {
  const T a = v < lo ? lo : v;
  return a > hi ? hi : a;
}

template <typename T>
void color_map_row(T *o0, T *o1, T *o2, const T *r, const T *g, const T *b, const T *p,
                   int64_t len) {
  const T m00 = p[0], m01 = p[1], m02 = p[2], m10 = p[3], m11 = p[4], m12 = p[5], m20 = p[6],
          m21 = p[7], m22 = p[8];
  const T b0 = p[9], b1 = p[10], b2 = p[11];
  const T l0 = p[12], l1 = p[13], l2 = p[14], h0 = p[15], h1 = p[16], h2 = p[17];
#pragma omp simd
  for (int64_t i = 0; i < len; ++i) {
    const T x0 = r[i], x1 = g[i], x2 = b[i];
    o0[i] = clamp_to(m00 * x0 + m01 * x1 + m02 * x2 + b0, l0, h0);
    o1[i] = clamp_to(m10 * x0 + m11 * x1 + m12 * x2 + b1, l1, h1);
    o2[i] = clamp_to(m20 * x0 + m21 * x1 + m22 * x2 + b2, l2, h2);
  }
}

// Pixels per partial sum of the colour map's backward: summed in T, then added in double.
constexpr int64_t kSumBlock = 256;

// The colour map's backward over `len` pixels of one sample, by libtorch's clamp backward:
// a channel's gradient passes where lo ≤ z ≤ hi (z the value before the clamp, recomputed
// as the forward computes it), goes to lo where z < lo < hi and to hi where z > hi or
// hi < lo. Writes the image gradient (d0, d1, d2) = Mᵀ·(the passed gradient); with `Sums`,
// `acc` gains the pixels' sums of the gradients of p's 18 entries (M row-major, bias, lo,
// hi), by blocks of kSumBlock pixels.
template <typename T, bool Sums>
void color_map_backward_block(T *d0, T *d1, T *d2, const T *r, const T *g, const T *b,
                              const T *g0, const T *g1, const T *g2, const T *p, int64_t len,
                              double *acc) {
  const T m00 = p[0], m01 = p[1], m02 = p[2], m10 = p[3], m11 = p[4], m12 = p[5], m20 = p[6],
          m21 = p[7], m22 = p[8];
  const T b0 = p[9], b1 = p[10], b2 = p[11];
  const T l0 = p[12], l1 = p[13], l2 = p[14], h0 = p[15], h1 = p[16], h2 = p[17];
  // Where the bounds cross, a clamped-off gradient goes to hi whichever side z is.
  const bool lo0 = l0 < h0, lo1 = l1 < h1, lo2 = l2 < h2;
  const bool hi0 = h0 < l0, hi1 = h1 < l1, hi2 = h2 < l2;
  for (int64_t i0 = 0; i0 < len; i0 += kSumBlock) {
    const int64_t i1 = mn(len, i0 + kSumBlock);
    T s00 = 0, s01 = 0, s02 = 0, s10 = 0, s11 = 0, s12 = 0, s20 = 0, s21 = 0, s22 = 0;
    T sb0 = 0, sb1 = 0, sb2 = 0, sl0 = 0, sl1 = 0, sl2 = 0, sh0 = 0, sh1 = 0, sh2 = 0;
#pragma omp simd reduction(+ : s00, s01, s02, s10, s11, s12, s20, s21, s22, sb0, sb1, sb2,     \
                               sl0, sl1, sl2, sh0, sh1, sh2)
    for (int64_t i = i0; i < i1; ++i) {
      const T x0 = r[i], x1 = g[i], x2 = b[i];
      const T u0 = g0[i], u1 = g1[i], u2 = g2[i];
      const T z0 = m00 * x0 + m01 * x1 + m02 * x2 + b0;
      const T z1 = m10 * x0 + m11 * x1 + m12 * x2 + b1;
      const T z2 = m20 * x0 + m21 * x1 + m22 * x2 + b2;
      const T a0 = (z0 >= l0 && z0 <= h0) ? u0 : T(0);
      const T a1 = (z1 >= l1 && z1 <= h1) ? u1 : T(0);
      const T a2 = (z2 >= l2 && z2 <= h2) ? u2 : T(0);
      d0[i] = m00 * a0 + m10 * a1 + m20 * a2;
      d1[i] = m01 * a0 + m11 * a1 + m21 * a2;
      d2[i] = m02 * a0 + m12 * a1 + m22 * a2;
      if (Sums) {
        s00 += a0 * x0;
        s01 += a0 * x1;
        s02 += a0 * x2;
        s10 += a1 * x0;
        s11 += a1 * x1;
        s12 += a1 * x2;
        s20 += a2 * x0;
        s21 += a2 * x1;
        s22 += a2 * x2;
        sb0 += a0;
        sb1 += a1;
        sb2 += a2;
        sl0 += (z0 < l0 && lo0) ? u0 : T(0);
        sl1 += (z1 < l1 && lo1) ? u1 : T(0);
        sl2 += (z2 < l2 && lo2) ? u2 : T(0);
        sh0 += (z0 > h0 || hi0) ? u0 : T(0);
        sh1 += (z1 > h1 || hi1) ? u1 : T(0);
        sh2 += (z2 > h2 || hi2) ? u2 : T(0);
      }
    }
    if (Sums) {
      const T s[18] = {s00, s01, s02, s10, s11, s12, s20, s21, s22,
                       sb0, sb1, sb2, sl0, sl1, sl2, sh0, sh1, sh2};
      for (int k = 0; k < 18; ++k) {
        acc[k] += static_cast<double>(s[k]);
      }
    }
  }
}

// The colour map's backward (see color_map_backward_block); `acc` null: no sums.
template <typename T>
void color_map_backward_row(T *d0, T *d1, T *d2, const T *r, const T *g, const T *b,
                            const T *g0, const T *g1, const T *g2, const T *p, int64_t len,
                            double *acc) {
  if (acc != nullptr) {
    color_map_backward_block<T, true>(d0, d1, d2, r, g, b, g0, g1, g2, p, len, acc);
  } else {
    color_map_backward_block<T, false>(d0, d1, d2, r, g, b, g0, g1, g2, p, len, acc);
  }
}

template <typename T>
void outer_add_row(T *o, const T *p, const T *q, int n, int64_t c0, int64_t c1) {
  int64_t c = c0;
  for (; c < c1 && c % n != 0; ++c) {
    o[c] = p[c % n] + q[c];
  }
  // Whole pixels from here.
  const int64_t pixels = (c1 - c) / n;
  T *oo = o + c;
  const T *qq = q + c;
  if (n == 2) {
    const T p0 = p[0], p1 = p[1];
#pragma omp simd
    for (int64_t j = 0; j < pixels; ++j) {
      oo[2 * j] = p0 + qq[2 * j];
      oo[2 * j + 1] = p1 + qq[2 * j + 1];
    }
  } else if (n == 3) {
    const T p0 = p[0], p1 = p[1], p2 = p[2];
#pragma omp simd
    for (int64_t j = 0; j < pixels; ++j) {
      oo[3 * j] = p0 + qq[3 * j];
      oo[3 * j + 1] = p1 + qq[3 * j + 1];
      oo[3 * j + 2] = p2 + qq[3 * j + 2];
    }
  } else {
    for (int64_t j = 0; j < pixels; ++j) {
      for (int k = 0; k < n; ++k) {
        oo[n * j + k] = p[k] + qq[n * j + k];
      }
    }
  }
  for (c += pixels * n; c < c1; ++c) {
    o[c] = p[c % n] + q[c];
  }
}

// 1/w, or 1 where |w| <= 1e-8 (the projective warp's rule).
template <typename T> inline T projective_scale(T w) {
  const T a = w < T(0) ? -w : w;
  return a > static_cast<T>(1e-8) ? T(1) / w : T(1);
}

template <typename T>
void project_add_row(T *o, const T *p, const T *q, int n, int64_t c0, int64_t c1) {
  const int m = n + 1;
  int64_t c = c0;
  for (; c < c1 && c % n != 0; ++c) {
    const int64_t j = c / n;
    o[c] = (p[c % n] + q[j * m + c % n]) * projective_scale(p[n] + q[j * m + n]);
  }
  const int64_t first = c / n, pixels = (c1 - c) / n;
  if (n == 2) {
    const T p0 = p[0], p1 = p[1], p2 = p[2];
#pragma omp simd
    for (int64_t j = first; j < first + pixels; ++j) {
      const T s = projective_scale(p2 + q[3 * j + 2]);
      o[2 * j] = (p0 + q[3 * j]) * s;
      o[2 * j + 1] = (p1 + q[3 * j + 1]) * s;
    }
  } else {
    for (int64_t j = first; j < first + pixels; ++j) {
      const T s = projective_scale(p[n] + q[j * m + n]);
      for (int r = 0; r < n; ++r) {
        o[j * n + r] = (p[r] + q[j * m + r]) * s;
      }
    }
  }
  for (c += pixels * n; c < c1; ++c) {
    const int64_t j = c / n;
    o[c] = (p[c % n] + q[j * m + c % n]) * projective_scale(p[n] + q[j * m + n]);
  }
}

// Each output row mixes two source rows, each read at the columns' taps.
template <typename T>
void resample_row(T *out, const T *x, int64_t w, DdaTaps<T> rows, DdaTaps<T> cols) {
  for (int64_t i = 0; i < rows.n; ++i) {
    const T *r0 = x + rows.lo[i] * w, *r1 = x + rows.hi[i] * w;
    const T a = rows.w_lo[i], b = rows.w_hi[i];
    T *o = out + i * cols.n;
    for (int64_t j = 0; j < cols.n; ++j) {
      const int64_t l = cols.lo[j], h = cols.hi[j];
      const T u = cols.w_lo[j], v = cols.w_hi[j];
      o[j] = (r0[l] * u + r0[h] * v) * a + (r1[l] * u + r1[h] * v) * b;
    }
  }
}

// The transpose, row by row: the output row's gradient spread over the source columns it
// read (into `tmp`, over the columns the taps reach), then added to its two source rows.
template <typename T>
void resample_backward_row(T *gx, const T *g, int64_t w, DdaTaps<T> rows, DdaTaps<T> cols,
                           T *tmp) {
  if (cols.n == 0) {
    return;
  }
  int64_t c0 = cols.lo[0], c1 = cols.hi[0];
  for (int64_t j = 0; j < cols.n; ++j) {
    c0 = mn(c0, cols.lo[j]);
    c1 = mx(c1, cols.hi[j]);
  }
  for (int64_t i = 0; i < rows.n; ++i) {
    for (int64_t c = c0; c <= c1; ++c) {
      tmp[c] = T(0);
    }
    const T *gi = g + i * cols.n;
    for (int64_t j = 0; j < cols.n; ++j) {
      tmp[cols.lo[j]] += gi[j] * cols.w_lo[j];
      tmp[cols.hi[j]] += gi[j] * cols.w_hi[j];
    }
    T *d0 = gx + rows.lo[i] * w, *d1 = gx + rows.hi[i] * w;
    const T a = rows.w_lo[i], b = rows.w_hi[i];
#pragma omp simd
    for (int64_t c = c0; c <= c1; ++c) {
      d0[c] += tmp[c] * a;
    }
#pragma omp simd
    for (int64_t c = c0; c <= c1; ++c) {
      d1[c] += tmp[c] * b;
    }
  }
}

} // namespace
