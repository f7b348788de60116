//! What a Rust user would write instead of tch-dda for the paper pipeline, as benchmark
//! peers:
//!
//! - [`cpu`]: kornia-rs (`kornia-imgproc`) per image, over the batch with rayon, on uint8 or
//!   float32 HWC images, assembled into the (B,3,H,W) float32 tensor a training loop takes;
//! - [`tch_loop`]: the per-sample loop of tch ops a tch user writes today.
//!
//! Both draw the paper pipeline's values per image: RandomAffine(30°, translate 0.1, scale
//! 0.9–1.1, shear 10), ColorJitter(0.2, 0.3, 0.2, 0.3) in a random order, Normalize(ImageNet).

pub mod cpu;
pub mod tch_loop;

/// The paper's four shapes (B, C, H, W), with their criterion ids.
pub const SHAPES: [(&str, [i64; 4]); 4] = [
    ("b512_32x32", [512, 3, 32, 32]),
    ("b64_224x224", [64, 3, 224, 224]),
    ("b16_512x512", [16, 3, 512, 512]),
    ("b1_224x224", [1, 3, 224, 224]),
];

/// ImageNet's mean and std.
pub const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's std.
pub const STD: [f32; 3] = [0.229, 0.224, 0.225];

/// SplitMix64: a small seeded generator for the CPU peers' per-image draws.
#[derive(Debug, Clone)]
pub struct SplitMix(pub u64);

impl SplitMix {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let u = (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * u
    }
}

/// One image's draw of the paper pipeline.
#[derive(Debug, Clone)]
pub struct Draw {
    /// Forward affine map (source pixel → output pixel), row-major 2×3.
    pub m: [f32; 6],
    /// Brightness, contrast and saturation factors, hue shift in turns.
    pub brightness: f32,
    /// Contrast factor.
    pub contrast: f32,
    /// Saturation factor.
    pub saturation: f32,
    /// Hue shift in turns.
    pub hue: f32,
    /// Order of the four colour steps (0 brightness, 1 contrast, 2 saturation, 3 hue).
    pub order: [usize; 4],
}

impl Draw {
    /// Draws the paper pipeline's values for a `w`×`h` image.
    pub fn new(rng: &mut SplitMix, w: usize, h: usize) -> Draw {
        let angle = rng.uniform(-30.0, 30.0).to_radians();
        let scale = rng.uniform(0.9, 1.1);
        let shear = rng.uniform(-10.0, 10.0).to_radians().tan();
        let tx = rng.uniform(-0.1, 0.1) * w as f32;
        let ty = rng.uniform(-0.1, 0.1) * h as f32;
        let (cx, cy) = ((w as f32 - 1.0) / 2.0, (h as f32 - 1.0) / 2.0);
        // Shear x, then rotate and scale, about the centre; then translate.
        let (c, s) = (angle.cos() * scale, angle.sin() * scale);
        let (a, b, d, e) = (c, c * shear - s, s, s * shear + c);
        let m = [
            a,
            b,
            cx + tx - (a * cx + b * cy),
            d,
            e,
            cy + ty - (d * cx + e * cy),
        ];
        let brightness = rng.uniform(0.8, 1.2);
        let contrast = rng.uniform(0.7, 1.3);
        let saturation = rng.uniform(0.8, 1.2);
        let hue = rng.uniform(-0.3, 0.3);
        let mut order = [0, 1, 2, 3];
        for i in (1..4).rev() {
            let j = (rng.next_u64() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        Draw {
            m,
            brightness,
            contrast,
            saturation,
            hue,
            order,
        }
    }
}
