//! The paper pipeline with kornia-rs (`kornia-imgproc` 0.2) per image, over the batch with
//! rayon: what a Rust CPU data loader would run. Images are HWC; float32 ones in [0, 1],
//! uint8 ones as decoded. kornia-imgproc has the warp, the HSV and gray conversions, the
//! weighted sum and the normalisation; the clamps and the contrast mean are plain loops.

use crate::{Draw, SplitMix, MEAN, STD};
use anyhow::Result;
use kornia_image::{Image, ImageSize, InterpolationMode};
use kornia_imgproc::{color, enhance, normalize, warp};
use rayon::prelude::*;
use tch::Tensor;

fn clamp01(img: &mut Image<f32, 3>) {
    for v in img.as_slice_mut() {
        *v = v.clamp(0.0, 1.0);
    }
}

/// The four colour steps in the drawn order, each clamped to [0, 1] (torchvision's
/// ColorJitter), then the ImageNet normalisation.
fn colour(mut x: Image<f32, 3>, d: &Draw) -> Result<Image<f32, 3>> {
    let size = x.size();
    let mut tmp = Image::<f32, 3>::from_size_val(size, 0.0)?;
    let mut gray = Image::<f32, 1>::from_size_val(size, 0.0)?;
    for &step in &d.order {
        match step {
            0 => {
                enhance::add_weighted(&x, d.brightness, &x, 0.0, 0.0, &mut tmp)?;
                std::mem::swap(&mut x, &mut tmp);
            }
            1 => {
                color::gray_from_rgb(&x, &mut gray)?;
                let g = gray.as_slice();
                let mean = g.iter().sum::<f32>() / g.len() as f32;
                let (f, shift) = (d.contrast, mean * (1.0 - d.contrast));
                for v in x.as_slice_mut() {
                    *v = *v * f + shift;
                }
            }
            2 => {
                color::gray_from_rgb(&x, &mut gray)?;
                color::rgb_from_gray(&gray, &mut tmp)?;
                let gray3 = tmp.clone();
                let f = d.saturation;
                enhance::add_weighted(&x, f, &gray3, 1.0 - f, 0.0, &mut tmp)?;
                std::mem::swap(&mut x, &mut tmp);
            }
            _ => {
                // kornia-rs's HSV is on [0, 255] with H scaled to [0, 255).
                for v in x.as_slice_mut() {
                    *v *= 255.0;
                }
                color::hsv_from_rgb(&x, &mut tmp)?;
                let shift = d.hue * 255.0;
                for px in tmp.as_slice_mut().chunks_exact_mut(3) {
                    px[0] = (px[0] + shift).rem_euclid(255.0);
                }
                color::rgb_from_hsv(&tmp, &mut x)?;
                for v in x.as_slice_mut() {
                    *v /= 255.0;
                }
            }
        }
        clamp01(&mut x);
    }
    normalize::normalize_mean_std(&x, &mut tmp, &MEAN, &STD)?;
    Ok(tmp)
}

/// One float32 image through the paper pipeline.
pub fn paper_f32(src: &Image<f32, 3>, d: &Draw) -> Result<Image<f32, 3>> {
    let mut warped = Image::<f32, 3>::from_size_val(src.size(), 0.0)?;
    warp::warp_affine(src, &mut warped, &d.m, InterpolationMode::Bilinear)?;
    colour(warped, d)
}

/// One uint8 image: the warp in uint8 (kornia-rs's fixed-point path), then read as x/255.
pub fn paper_u8(src: &Image<u8, 3>, d: &Draw) -> Result<Image<f32, 3>> {
    let mut warped = Image::<u8, 3>::from_size_val(src.size(), 0)?;
    warp::warp_affine_u8(src, &mut warped, &d.m)?;
    let data: Vec<f32> = warped
        .as_slice()
        .iter()
        .map(|&v| v as f32 / 255.0)
        .collect();
    colour(Image::new(src.size(), data)?, d)
}

/// A batch of HWC outputs as the (B,3,H,W) float32 tensor a training loop takes.
pub fn to_batch(images: &[Image<f32, 3>]) -> Tensor {
    let size = images[0].size();
    let mut data = Vec::with_capacity(images.len() * size.width * size.height * 3);
    for img in images {
        data.extend_from_slice(img.as_slice());
    }
    Tensor::from_slice(&data)
        .view([
            images.len() as i64,
            size.height as i64,
            size.width as i64,
            3,
        ])
        .permute([0, 3, 1, 2])
        .contiguous()
}

/// The batch's per-image draws: one generator per call, seeded by `seed`.
pub fn draws(n: usize, size: ImageSize, seed: u64) -> Vec<Draw> {
    let mut rng = SplitMix(seed);
    (0..n)
        .map(|_| Draw::new(&mut rng, size.width, size.height))
        .collect()
}

/// A batch through `one` (the pipeline for one image), images in parallel with rayon.
fn batch<T: Sync>(
    images: &[Image<T, 3>],
    seed: u64,
    one: fn(&Image<T, 3>, &Draw) -> Result<Image<f32, 3>>,
) -> Result<Tensor> {
    let d = draws(images.len(), images[0].size(), seed);
    let out: Result<Vec<_>> = images
        .par_iter()
        .zip(d.par_iter())
        .map(|(img, d)| one(img, d))
        .collect();
    Ok(to_batch(&out?))
}

/// The float32 batch through the pipeline, images in parallel with rayon.
pub fn batch_f32(images: &[Image<f32, 3>], seed: u64) -> Result<Tensor> {
    batch(images, seed, paper_f32)
}

/// The uint8 batch through the pipeline, images in parallel with rayon.
pub fn batch_u8(images: &[Image<u8, 3>], seed: u64) -> Result<Tensor> {
    batch(images, seed, paper_u8)
}

/// A batch as HWC images: float32 in [0, 1], and uint8 as decoded.
pub type Images = (Vec<Image<f32, 3>>, Vec<Image<u8, 3>>);

/// A (B,3,H,W) float tensor in [0, 1] as HWC images: float32, and uint8 (rounded x·255).
pub fn from_batch(x: &Tensor) -> Result<Images> {
    let s = x.size();
    let size = ImageSize {
        width: s[3] as usize,
        height: s[2] as usize,
    };
    let hwc = x.permute([0, 2, 3, 1]).contiguous();
    let mut f = Vec::new();
    let mut u = Vec::new();
    for i in 0..s[0] {
        let v = Vec::<f32>::try_from(hwc.get(i).reshape([-1]))?;
        let b: Vec<u8> = v.iter().map(|&p| (p * 255.0).round() as u8).collect();
        f.push(Image::new(size, v)?);
        u.push(Image::new(size, b)?);
    }
    Ok((f, u))
}
