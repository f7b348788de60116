//! The per-sample loop a tch user writes today without tch-dda: each image on its own,
//! with values drawn on the host, through `affine_grid` + `grid_sample` and the colour steps
//! as tch ops, then `cat`. It leaves hue out (tch has no HSV: a user would write the
//! conversion by hand), so it is a lower bound for such a loop.

use crate::{Draw, SplitMix, MEAN, STD};
use tch::{Kind, Tensor};

/// The paper pipeline (without hue) on a (B,3,H,W) float32 batch, one image at a time.
pub fn paper(x: &Tensor, rng: &mut SplitMix) -> Tensor {
    let s = x.size();
    let (h, w) = (s[2] as usize, s[3] as usize);
    let device = x.device();
    let mean = Tensor::from_slice(&MEAN)
        .to_device(device)
        .view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&STD)
        .to_device(device)
        .view([1, 3, 1, 1]);
    let luma = Tensor::from_slice(&[0.299f32, 0.587, 0.114])
        .to_device(device)
        .view([1, 3, 1, 1]);
    let out: Vec<Tensor> = (0..s[0])
        .map(|i| {
            let d = Draw::new(rng, w, h);
            let xi = x.narrow(0, i, 1);
            // The forward pixel map, inverted, in grid_sample's normalised coordinates.
            let [a, b, c, dd, e, f] = d.m.map(f64::from);
            let det = a * e - b * dd;
            let (ia, ib, id, ie) = (e / det, -b / det, -dd / det, a / det);
            let (ic, if_) = (-(ia * c + ib * f), -(id * c + ie * f));
            let (sx, sy) = (w as f64 / 2.0, h as f64 / 2.0);
            // p_norm = p / s - 1 (+ half-pixel offsets cancel for align_corners = false
            // up to the centre convention): theta = N · M⁻¹ · N⁻¹.
            let theta = Tensor::from_slice(&[
                ia,
                ib * sy / sx,
                (ia * (sx - 0.5) + ib * (sy - 0.5) + ic) / sx - 1.0 + 0.5 / sx,
                id * sx / sy,
                ie,
                (id * (sx - 0.5) + ie * (sy - 0.5) + if_) / sy - 1.0 + 0.5 / sy,
            ])
            .to_kind(Kind::Float)
            .to_device(device)
            .view([1, 2, 3]);
            let grid = Tensor::affine_grid_generator(&theta, [1, 3, h as i64, w as i64], false);
            let mut y = Tensor::grid_sampler(&xi, &grid, 0, 0, false);
            for step in d.order {
                y = match step {
                    0 => (y * f64::from(d.brightness)).clamp(0.0, 1.0),
                    1 => {
                        let m = (&y * &luma).sum(Kind::Float);
                        let m = m / (h * w) as f64;
                        let f = f64::from(d.contrast);
                        (y * f + m * (1.0 - f)).clamp(0.0, 1.0)
                    }
                    2 => {
                        let gray =
                            (&y * &luma).sum_dim_intlist([1i64].as_slice(), true, Kind::Float);
                        let f = f64::from(d.saturation);
                        (y * f + gray * (1.0 - f)).clamp(0.0, 1.0)
                    }
                    _ => y,
                };
            }
            (y - &mean) / &std
        })
        .collect();
    Tensor::cat(&out, 0)
}
