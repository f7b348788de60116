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

/// Writes rows of (N,3,H,W) images in [0,1] (or uint8) as one PNG grid with 4-pixel white
/// gaps (`tch_dda::draw::f_save_grid`).
pub fn write_grid(rows: &[Tensor], path: &str) -> Result<()> {
    Ok(tch_dda::draw::f_save_grid(rows, path)?)
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

/// A progress bar for a loop of `len` steps (hidden when stderr is not a terminal, as in CI).
pub fn progress(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>14} [{bar:30}] {pos}/{len} {elapsed_precise} (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// One named series of (x, y) points.
pub struct Curve {
    pub label: String,
    pub points: Vec<(f64, f64)>,
}

/// One chart of a figure: its title, axis names and curves.
pub struct Panel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub curves: Vec<Curve>,
}

/// Registers DejaVu Sans (Debian's fonts-dejavu-core) for the plots' text, once; false if
/// it is not installed (the plots are then drawn without text).
fn plot_font() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        let candidates = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
            "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        ];
        candidates.iter().any(|p| match std::fs::read(p) {
            Ok(bytes) => plotters::style::register_font(
                "sans-serif",
                plotters::style::FontStyle::Normal,
                Box::leak(bytes.into_boxed_slice()),
            )
            .is_ok(),
            Err(_) => false,
        })
    })
}

/// Writes `panels` side by side as one PNG (plotters), 560×400 pixels each.
pub fn plot_panels(path: &str, panels: &[Panel]) -> Result<()> {
    use plotters::prelude::*;
    if let Some(dir) = std::path::Path::new(path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let text = plot_font();
    let root = BitMapBackend::new(path, (560 * panels.len() as u32, 400)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let areas = root.split_evenly((1, panels.len()));
    let colors = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];
    for (panel, area) in panels.iter().zip(areas.iter()) {
        let pts = panel.curves.iter().flat_map(|c| c.points.iter());
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y) in pts {
            if x.is_finite() && y.is_finite() {
                x0 = x0.min(x);
                x1 = x1.max(x);
                y0 = y0.min(y);
                y1 = y1.max(y);
            }
        }
        if x0 > x1 {
            continue;
        }
        let pad = ((y1 - y0) * 0.05).max(1e-9);
        let mut builder = ChartBuilder::on(area);
        builder
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56);
        if text {
            builder.caption(&panel.title, ("sans-serif", 18));
        }
        let mut chart = builder
            .build_cartesian_2d(x0..x1.max(x0 + 1e-9), (y0 - pad)..(y1 + pad))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let mut mesh = chart.configure_mesh();
        if text {
            mesh.x_desc(&panel.x_label).y_desc(&panel.y_label);
        } else {
            mesh.disable_x_mesh()
                .disable_y_mesh()
                .x_labels(0)
                .y_labels(0);
        }
        mesh.draw().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for (i, c) in panel.curves.iter().enumerate() {
            let color = colors[i % colors.len()];
            let series = chart
                .draw_series(LineSeries::new(
                    c.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            if text {
                series.label(&c.label).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
            }
        }
        if text {
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        }
    }
    root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

/// scikit-learn's 8×8 handwritten digits (assets/digits, CC BY 4.0) as (N,1,8,8) in [0, 1]
/// and their labels (N,) int64.
pub fn load_digits() -> Result<(Tensor, Tensor)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/digits/digits.bin");
    let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
    anyhow::ensure!(
        bytes.len() == 1797 * 65,
        "{path}: {} bytes, expected 1797 × 65",
        bytes.len()
    );
    let t = Tensor::from_slice(&bytes).view([1797, 65]);
    let images = t
        .narrow(1, 0, 64)
        .to_kind(Kind::Float)
        .view([1797, 1, 8, 8])
        / 16.0;
    let labels = t.select(1, 64).to_kind(Kind::Int64);
    Ok((images, labels))
}
