//! Decoding one file into RGB pixels, and the resizing that cannot wait for the device.

use crate::error::{Error, Result};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits};
use serde::{Deserialize, Serialize};
use std::io::Cursor;
use std::path::Path;
use tch::Tensor;

/// The default for [`crate::LoaderConfig::max_pixels`]: 2^26 pixels (8192 × 8192), larger
/// than any camera's photograph and far below what a decompression bomb claims.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 26;

/// What each decoded image becomes before it is batched (a batch holds images of one size).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Resize {
    /// Kept as decoded: every image of a batch must then have the same size (an image of
    /// another size is a [`Error::Decode`] naming both sizes).
    Original,
    /// Resized to `(height, width)`, aspect ratio not kept (torchvision's `Resize((h, w))`,
    /// bilinear with antialiasing).
    Exact {
        /// Output height.
        height: i64,
        /// Output width.
        width: i64,
    },
    /// The shorter side resized to `shorter` (aspect ratio kept), then the centre
    /// `(height, width)` cropped: the evaluation transform of ImageNet models
    /// (`Resize(256)` + `CenterCrop(224)`).
    ShorterThenCenter {
        /// The shorter side after resizing.
        shorter: i64,
        /// Output height.
        height: i64,
        /// Output width.
        width: i64,
    },
    /// torchvision's `RandomResizedCrop((height, width), scale, ratio)`: a crop of a drawn
    /// area fraction and aspect ratio (ten tries, then the centre crop of the nearest
    /// allowed ratio), resized to `(height, width)`. Drawn per batch from torch's RNG, seeded
    /// by the loader's seed, epoch, rank and batch number: the same whatever the thread count.
    RandomResizedCrop {
        /// Output height.
        height: i64,
        /// Output width.
        width: i64,
        /// The crop's area as a fraction of the image's, `(lo, hi)`.
        scale: (f64, f64),
        /// The crop's width over height, `(lo, hi)`.
        ratio: (f64, f64),
    },
}

impl Resize {
    /// torchvision's defaults: scale (0.08, 1), ratio (3/4, 4/3).
    pub fn random_resized_crop(height: i64, width: i64) -> Resize {
        Resize::RandomResizedCrop {
            height,
            width,
            scale: (0.08, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
        }
    }

    /// The output `(height, width)`, `None` for [`Resize::Original`].
    pub fn output(&self) -> Option<(i64, i64)> {
        match *self {
            Resize::Original => None,
            Resize::Exact { height, width }
            | Resize::ShorterThenCenter { height, width, .. }
            | Resize::RandomResizedCrop { height, width, .. } => Some((height, width)),
        }
    }

    /// Uniform draws each image takes (ten tries of four).
    pub(crate) fn draws(&self) -> i64 {
        match self {
            Resize::RandomResizedCrop { .. } => 40,
            _ => 0,
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        let bad = |value: String, allowed: &str| {
            Err(Error::Config {
                name: "resize",
                value,
                allowed: allowed.into(),
            })
        };
        if let Some((h, w)) = self.output() {
            if h < 1 || w < 1 || h > 1 << 16 || w > 1 << 16 {
                return bad(format!("{self:?}"), "an output of 1 to 65536 pixels a side");
            }
        }
        match *self {
            Resize::ShorterThenCenter { shorter, .. } if !(1..=1 << 16).contains(&shorter) => {
                bad(format!("{self:?}"), "a shorter side of 1 to 65536 pixels")
            }
            Resize::RandomResizedCrop { scale, ratio, .. } => {
                let ok = |(lo, hi): (f64, f64), min: f64| {
                    lo.is_finite() && hi.is_finite() && lo > min && lo <= hi
                };
                if !ok(scale, 0.0) || scale.1 > 1.0 {
                    bad(format!("scale {scale:?}"), "0 < lo <= hi <= 1")
                } else if !ok(ratio, 0.0) {
                    bad(format!("ratio {ratio:?}"), "0 < lo <= hi, finite")
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }
}

/// An image decoded into 8-bit RGB, row-major (height, width, 3).
pub(crate) struct Pixels {
    pub rgb: Vec<u8>,
    pub height: u32,
    pub width: u32,
}

fn decode_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Decodes a JPEG or PNG file's bytes (the format read from the content, not the name) into
/// RGB: grayscale is repeated over the channels, alpha dropped, 16-bit scaled to 8, CMYK
/// converted, EXIF orientation applied. Images over `max_pixels` are refused from their
/// header, before any pixel is allocated.
pub(crate) fn decode_bytes(path: &Path, bytes: &[u8], max_pixels: u64) -> Result<Pixels> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_error(path, e))?;
    match reader.format() {
        Some(image::ImageFormat::Jpeg | image::ImageFormat::Png) => {}
        Some(f) => {
            return Err(decode_error(
                path,
                format!("a {f:?} file; this loader decodes JPEG and PNG"),
            ))
        }
        None => {
            return Err(decode_error(
                path,
                "neither JPEG nor PNG (its first bytes match no image format)",
            ))
        }
    }
    let mut reader = reader;
    let mut limits = Limits::default();
    // 16-bit RGBA is the widest decoded layout: 8 bytes a pixel.
    limits.max_alloc = Some(max_pixels.saturating_mul(8));
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| decode_error(path, e))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(Error::TooLarge {
            path: path.to_path_buf(),
            width,
            height,
            limit: max_pixels,
        });
    }
    // A malformed EXIF block does not make the pixels unreadable: it is ignored.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| decode_error(path, e))?;
    img.apply_orientation(orientation);
    let rgb = img.into_rgb8();
    Ok(Pixels {
        height: rgb.height(),
        width: rgb.width(),
        rgb: rgb.into_raw(),
    })
}

/// Reads and decodes one file (see [`decode_bytes`]).
pub(crate) fn decode_file(path: &Path, max_pixels: u64) -> Result<Pixels> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    decode_bytes(path, &bytes, max_pixels)
}

/// Decodes one JPEG or PNG file into a (3, H, W) uint8 tensor on the CPU, as the loader
/// does (RGB, EXIF orientation applied, images over `max_pixels` refused from their header).
///
/// # Errors
/// [`Error::Io`], [`Error::Decode`] or [`Error::TooLarge`], naming the file.
pub fn decode_image(path: impl AsRef<Path>, max_pixels: u64) -> Result<Tensor> {
    let px = decode_file(path.as_ref(), max_pixels)?;
    Ok(to_tensor(&px)?.squeeze_dim(0))
}

/// Decodes a JPEG or PNG file's bytes (already in memory: an archive's member, a network
/// response) into a (3, H, W) uint8 tensor, as [`decode_image`] does; `name` only labels
/// errors.
///
/// # Errors
/// [`Error::Decode`] or [`Error::TooLarge`], naming `name`.
pub fn decode_image_bytes(name: impl AsRef<Path>, bytes: &[u8], max_pixels: u64) -> Result<Tensor> {
    let px = decode_bytes(name.as_ref(), bytes, max_pixels)?;
    Ok(to_tensor(&px)?.squeeze_dim(0))
}

/// (1, 3, H, W) uint8 with channels-last strides (a view of the HWC pixels, copied once).
fn to_tensor(px: &Pixels) -> Result<Tensor> {
    let (h, w) = (i64::from(px.height), i64::from(px.width));
    Ok(Tensor::f_from_slice(&px.rgb)?
        .f_view([1, h, w, 3])?
        .f_permute([0, 3, 1, 2])?)
}

/// Python's `round` (ties to even), as torchvision's crop sizes use.
fn round(v: f64) -> i64 {
    v.round_ties_even() as i64
}

/// torchvision's `RandomResizedCrop.get_params` on an `h`×`w` image with the uniform draws
/// `u` (ten tries of: area fraction, log ratio, top, left): `(top, left, height, width)`.
pub(crate) fn resized_crop_box(
    (h, w): (i64, i64),
    scale: (f64, f64),
    ratio: (f64, f64),
    u: &[f32],
) -> (i64, i64, i64, i64) {
    let area = (h * w) as f64;
    let (lr0, lr1) = (ratio.0.ln(), ratio.1.ln());
    for t in u.chunks_exact(4) {
        let (a, r, top, left) = (t[0] as f64, t[1] as f64, t[2] as f64, t[3] as f64);
        let target = area * (scale.0 + a * (scale.1 - scale.0));
        let aspect = (lr0 + r * (lr1 - lr0)).exp();
        let cw = round((target * aspect).sqrt());
        let ch = round((target / aspect).sqrt());
        if 0 < cw && cw <= w && 0 < ch && ch <= h {
            // randint(0, n + 1) from a uniform draw.
            let pick = |u: f64, n: i64| ((u * (n + 1) as f64).floor() as i64).min(n);
            return (pick(top, h - ch), pick(left, w - cw), ch, cw);
        }
    }
    let in_ratio = w as f64 / h as f64;
    let (ch, cw) = if in_ratio < ratio.0 {
        (round(w as f64 / ratio.0), w)
    } else if in_ratio > ratio.1 {
        (h, round(h as f64 * ratio.1))
    } else {
        (h, w)
    };
    ((h - ch) / 2, (w - cw) / 2, ch, cw)
}

/// Bilinear resizing with antialiasing (torchvision's `antialias=True`), on uint8.
fn resize(x: &Tensor, (h, w): (i64, i64)) -> Result<Tensor> {
    let size = x.size();
    if size[2] == h && size[3] == w {
        return Ok(x.shallow_clone());
    }
    Ok(x.f_internal_upsample_bilinear2d_aa([h, w], false, None, None)?)
}

/// Where a decoded image's pixel coordinates land in the batch: `x' = x * sx + tx`,
/// `y' = y * sy + ty`, in an output of `width` × `height` (continuous coordinates, pixel
/// edges at integers).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Placement {
    pub sx: f64,
    pub sy: f64,
    pub tx: f64,
    pub ty: f64,
    pub width: f64,
    pub height: f64,
}

/// The image as it goes into the batch, (1, 3, H, W) uint8 after `resize`, and where its
/// coordinates went (`u`: this image's uniform draws for a random crop).
pub(crate) fn prepare(px: &Pixels, how: &Resize, u: &[f32]) -> Result<(Tensor, Placement)> {
    let x = to_tensor(px)?;
    let (h, w) = (i64::from(px.height), i64::from(px.width));
    // Crop (top, left, ch, cw) resized to (oh, ow).
    let place = |top: i64, left: i64, ch: i64, cw: i64, oh: i64, ow: i64| {
        let (sx, sy) = (ow as f64 / cw as f64, oh as f64 / ch as f64);
        Placement {
            sx,
            sy,
            tx: -(left as f64) * sx,
            ty: -(top as f64) * sy,
            width: ow as f64,
            height: oh as f64,
        }
    };
    match *how {
        Resize::Original => Ok((x, place(0, 0, h, w, h, w))),
        Resize::Exact { height, width } => Ok((
            resize(&x, (height, width))?,
            place(0, 0, h, w, height, width),
        )),
        Resize::ShorterThenCenter {
            shorter,
            height,
            width,
        } => {
            // torchvision's Resize(int): the shorter side to `shorter`, the longer one
            // scaled and truncated.
            let (rh, rw) = if h <= w {
                (shorter, ((shorter * w) as f64 / h as f64) as i64)
            } else {
                (((shorter * h) as f64 / w as f64) as i64, shorter)
            };
            let r = resize(&x, (rh, rw))?;
            // torchvision's CenterCrop: pads with zeros when the crop is larger.
            let (ph, pw) = ((height - rh).max(0), (width - rw).max(0));
            let r = if ph > 0 || pw > 0 {
                r.f_constant_pad_nd([pw / 2, pw - pw / 2, ph / 2, ph - ph / 2])?
            } else {
                r
            };
            let (rh2, rw2) = (rh.max(height), rw.max(width));
            let top = round((rh2 - height) as f64 / 2.0);
            let left = round((rw2 - width) as f64 / 2.0);
            let out = r.f_narrow(2, top, height)?.f_narrow(3, left, width)?;
            let mut p = place(0, 0, h, w, rh, rw);
            p.tx += (pw / 2 - left) as f64;
            p.ty += (ph / 2 - top) as f64;
            p.width = width as f64;
            p.height = height as f64;
            Ok((out, p))
        }
        Resize::RandomResizedCrop {
            height,
            width,
            scale,
            ratio,
        } => {
            let (top, left, ch, cw) = resized_crop_box((h, w), scale, ratio, u);
            let crop = x.f_narrow(2, top, ch)?.f_narrow(3, left, cw)?;
            Ok((
                resize(&crop, (height, width))?,
                place(top, left, ch, cw, height, width),
            ))
        }
    }
}

/// Stacks prepared images into one (B, 3, H, W) uint8 tensor.
pub(crate) fn stack(images: &[Tensor]) -> Result<Tensor> {
    Ok(Tensor::f_cat(images, 0)?.f_contiguous()?)
}
