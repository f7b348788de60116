//! Shared by the examples: loading the sample photos and writing PNG grids.
#![allow(dead_code)]

use anyhow::{Context, Result};
use tch::{Device, Kind, Tensor};

/// The committed sample photos, resized to `size`×`size`, as a (N,3,size,size) batch in [0,1].
pub fn load_photos(size: i64, device: Device) -> Result<Tensor> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/assets");
    let mut images = Vec::new();
    for name in ["astronaut.png", "chelsea.png", "coffee.png"] {
        let path = format!("{dir}/{name}");
        let img = image::open(&path)
            .with_context(|| format!("reading {path}"))?
            .to_rgb8();
        let (w, h) = img.dimensions();
        let t = Tensor::from_slice(img.as_raw())
            .view([h as i64, w as i64, 3])
            .permute([2, 0, 1])
            .to_kind(Kind::Float)
            / 255.0;
        // Centre square, then resize.
        let s = h.min(w) as i64;
        let t = t
            .narrow(1, (h as i64 - s) / 2, s)
            .narrow(2, (w as i64 - s) / 2, s)
            .unsqueeze(0);
        let t = t.upsample_bilinear2d([size, size], false, None, None);
        images.push(t);
    }
    Ok(Tensor::cat(&images, 0).clamp(0.0, 1.0).to_device(device))
}

/// Writes rows of (N,3,H,W) images in [0,1] as one PNG grid with 4-pixel white gaps.
pub fn write_grid(rows: &[Tensor], path: &str) -> Result<()> {
    let gap = 4i64;
    let (n, h, w) = {
        let s = rows[0].size();
        (s[0], s[2], s[3])
    };
    let (gh, gw) = (rows.len() as i64 * (h + gap) + gap, n * (w + gap) + gap);
    let grid = Tensor::ones([3, gh, gw], (Kind::Float, Device::Cpu));
    for (r, row) in rows.iter().enumerate() {
        let row = row
            .to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .clamp(0.0, 1.0);
        for i in 0..n {
            let y = gap + r as i64 * (h + gap);
            let x = gap + i * (w + gap);
            grid.narrow(1, y, h).narrow(2, x, w).copy_(&row.get(i));
        }
    }
    let bytes: Vec<u8> = Vec::try_from(
        &(grid * 255.0)
            .round()
            .to_kind(Kind::Uint8)
            .permute([1, 2, 0])
            .contiguous()
            .view([-1]),
    )?;
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    image::save_buffer(path, &bytes, gw as u32, gh as u32, image::ColorType::Rgb8)?;
    Ok(())
}

/// The default device: CUDA when available, else the CPU.
pub fn default_device() -> Device {
    Device::cuda_if_available()
}

/// Waits for queued GPU work (no-op on the CPU), so a timer reads real time.
pub fn sync(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}
