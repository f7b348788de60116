//! Reads what `scripts/bench_all.sh` measured (criterion's estimates under
//! target/criterion, the Python peers' JSON) and writes the comparison: a markdown report
//! and a PNG plot.
//!
//! `cargo run --release -p tch-dda-peers --bin bench_report -- [--python out/bench/python.json]
//! [--criterion target/criterion] [--out docs/bench]`

use anyhow::{bail, Context, Result};
use plotters::prelude::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A time in ms: the median and a spread (criterion's 95% interval, or Python's min–max).
#[derive(Debug, Clone, Copy)]
struct Time {
    median: f64,
    lo: f64,
    hi: f64,
}

impl Time {
    fn cell(&self) -> String {
        format!("{} ({}–{})", ms(self.median), ms(self.lo), ms(self.hi))
    }
}

fn ms(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// (peer, bench, pass, shape) → time.
type Table = BTreeMap<(String, String, String, String), Time>;

const SHAPES: [(&str, &str); 4] = [
    ("b512_32x32", "512×3×32²"),
    ("b64_224x224", "64×3×224²"),
    ("b16_512x512", "16×3×512²"),
    ("b1_224x224", "1×3×224²"),
];

fn shape_id(shape: &[i64]) -> String {
    format!("b{}_{}x{}", shape[0], shape[2], shape[3])
}

/// Criterion's results: every `new/benchmark.json` with its `new/estimates.json`.
fn criterion(dir: &Path, table: &mut Table) -> Result<()> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().and_then(|n| n.to_str()) != Some("benchmark.json")
                || path
                    .parent()
                    .and_then(|p| p.file_name())
                    .and_then(|n| n.to_str())
                    != Some("new")
            {
                continue;
            }
            let b: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            let est_path = path.with_file_name("estimates.json");
            let e: Value = serde_json::from_str(&std::fs::read_to_string(&est_path)?)?;
            let median = &e["median"];
            let t = Time {
                median: median["point_estimate"].as_f64().unwrap_or(f64::NAN) / 1e6,
                lo: median["confidence_interval"]["lower_bound"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    / 1e6,
                hi: median["confidence_interval"]["upper_bound"]
                    .as_f64()
                    .unwrap_or(f64::NAN)
                    / 1e6,
            };
            let group = b["group_id"].as_str().unwrap_or_default();
            let func = b["function_id"].as_str().unwrap_or_default();
            let value = b["value_str"].as_str().unwrap_or_default();
            let key = match group {
                // "exact forward" / "fast forward+backward" / "floor forward"
                "paper_pipeline" => {
                    let Some((who, pass)) = func.split_once(' ') else {
                        continue;
                    };
                    let peer = match who {
                        "exact" => "tch-dda (exact)",
                        "fast" => "tch-dda (fast)",
                        _ => "floor (libtorch)",
                    };
                    (peer.into(), "paper".into(), pass.into(), value.into())
                }
                "family" => (
                    "tch-dda".into(),
                    format!("family/{value}"),
                    func.into(),
                    "b64_224x224".into(),
                ),
                "peers" => (func.into(), "paper".into(), "forward".into(), value.into()),
                _ => continue,
            };
            table.insert(key, t);
        }
    }
    Ok(())
}

/// The Python peers' records.
fn python(path: &Path, table: &mut Table) -> Result<Value> {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    )?;
    if doc["quick"].as_bool() == Some(true) {
        bail!(
            "{} is a --quick smoke run, not a measurement",
            path.display()
        );
    }
    for r in doc["records"].as_array().context("records")? {
        let shape: Vec<i64> = r["shape"]
            .as_array()
            .context("shape")?
            .iter()
            .filter_map(|v| v.as_i64())
            .collect();
        let t = Time {
            median: r["median_ms"].as_f64().unwrap_or(f64::NAN),
            lo: r["min_ms"].as_f64().unwrap_or(f64::NAN),
            hi: r["max_ms"].as_f64().unwrap_or(f64::NAN),
        };
        let peer = match r["peer"].as_str().unwrap_or_default() {
            "kornia" => "Kornia 0.9".to_string(),
            p => p.to_string(),
        };
        let pass = r["pass"].as_str().unwrap_or_default().to_string();
        table.insert(
            (
                peer,
                r["bench"].as_str().unwrap_or_default().to_string(),
                pass,
                shape_id(&shape),
            ),
            t,
        );
    }
    Ok(doc)
}

const FORWARD_PEERS: [&str; 11] = [
    "floor (libtorch)",
    "tch-dda (exact)",
    "tch-dda (fast)",
    "Kornia 0.9",
    "torchvision v2 (batch)",
    "torchvision v2 (per image)",
    "albumentations (uint8, per image)",
    "albumentations (float32, per image)",
    "kornia-rs rayon (uint8)",
    "kornia-rs rayon (float32)",
    "tch per-sample loop",
];

fn paper_table(table: &Table, pass: &str, peers: &[&str]) -> String {
    let mut md = String::from("| pipeline |");
    for (_, label) in SHAPES {
        md += &format!(" {label} |");
    }
    md += "\n|---|";
    md += &"---|".repeat(SHAPES.len());
    md += "\n";
    for peer in peers {
        let row: Vec<String> = SHAPES
            .iter()
            .map(|(id, _)| {
                table
                    .get(&(
                        peer.to_string(),
                        "paper".into(),
                        pass.into(),
                        id.to_string(),
                    ))
                    .map(|t| t.cell())
                    .unwrap_or_else(|| "–".into())
            })
            .collect();
        if row.iter().all(|c| c == "–") {
            continue;
        }
        md += &format!("| {peer} | {} |\n", row.join(" | "));
    }
    md
}

fn families(table: &Table) -> Vec<String> {
    let mut f: Vec<String> = table
        .keys()
        .filter(|(p, b, _, _)| p == "tch-dda" && b.starts_with("family/"))
        .map(|(_, b, _, _)| b["family/".len()..].to_string())
        .collect();
    f.dedup();
    f
}

fn family_time(table: &Table, peer: &str, family: &str, pass: &str) -> Option<Time> {
    table
        .get(&(
            peer.into(),
            format!("family/{family}"),
            pass.into(),
            "b64_224x224".into(),
        ))
        .copied()
}

fn family_table(table: &Table) -> String {
    let mut md = String::from(
        "| family | tch-dda forward | Kornia forward | Kornia / tch-dda | tch-dda fwd+bwd | Kornia fwd+bwd | Kornia / tch-dda |\n|---|---|---|---|---|---|---|\n",
    );
    for f in families(table) {
        let mut cells = Vec::new();
        for pass in ["forward", "forward+backward"] {
            let ours = family_time(table, "tch-dda", &f, pass);
            let theirs = family_time(table, "Kornia 0.9", &f, pass);
            cells.push(ours.map(|t| t.cell()).unwrap_or_else(|| "–".into()));
            cells.push(theirs.map(|t| t.cell()).unwrap_or_else(|| "–".into()));
            cells.push(match (ours, theirs) {
                (Some(o), Some(t)) => format!("{:.2}", t.median / o.median),
                _ => "–".into(),
            });
        }
        md += &format!("| {f} | {} |\n", cells.join(" | "));
    }
    md
}

/// Registers DejaVu Sans (Debian's fonts-dejavu-core) for the plot's text.
fn register_font() -> Result<()> {
    let candidates = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ];
    for p in candidates {
        if let Ok(bytes) = std::fs::read(p) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return Ok(());
            }
        }
    }
    bail!("the plot needs DejaVu Sans (Debian: fonts-dejavu-core); none of {candidates:?}")
}

fn plot(table: &Table, path: &Path) -> Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, (1400, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(760);
    let font = ("sans-serif", 16);
    let palette = [
        BLACK,
        RED,
        RGBColor(230, 120, 0),
        BLUE,
        RGBColor(0, 150, 0),
        RGBColor(0, 200, 120),
        MAGENTA,
        RGBColor(150, 0, 150),
        CYAN,
        RGBColor(0, 90, 160),
        RGBColor(120, 120, 120),
    ];
    {
        let mut chart = ChartBuilder::on(&left)
            .caption("paper pipeline, forward: ms per batch (log)", font)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.5f64..4.5f64, (0.1f64..5000f64).log_scale())?;
        chart
            .configure_mesh()
            .x_labels(4)
            .x_label_formatter(&|x| {
                let i = x.round() as usize;
                if (1..=4).contains(&i) && (x - i as f64).abs() < 1e-6 {
                    SHAPES[i - 1].1.to_string()
                } else {
                    String::new()
                }
            })
            .y_desc("ms")
            .draw()?;
        for (k, peer) in FORWARD_PEERS.iter().enumerate() {
            let pts: Vec<(f64, f64)> = SHAPES
                .iter()
                .enumerate()
                .filter_map(|(i, (id, _))| {
                    table
                        .get(&(
                            peer.to_string(),
                            "paper".into(),
                            "forward".into(),
                            id.to_string(),
                        ))
                        .map(|t| ((i + 1) as f64, t.median))
                })
                .collect();
            if pts.is_empty() {
                continue;
            }
            let color = palette[k % palette.len()];
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
                .label(*peer)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color));
            chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperLeft)
            .draw()?;
    }
    {
        let fams = families(table);
        let n = fams.len().max(1) as f64;
        let mut chart = ChartBuilder::on(&right)
            .caption(
                "operator families at 64×3×224²: Kornia time / tch-dda time (log)",
                font,
            )
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.5f64..n + 0.5, (0.1f64..100f64).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("family (see the table, in its order)")
            .y_desc("speed-up")
            .draw()?;
        for (k, (pass, color)) in [("forward", BLUE), ("forward+backward", RED)]
            .into_iter()
            .enumerate()
        {
            let pts: Vec<(f64, f64)> = fams
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    let o = family_time(table, "tch-dda", f, pass)?;
                    let t = family_time(table, "Kornia 0.9", f, pass)?;
                    Some((
                        (i + 1) as f64 + 0.15 * (k as f64 - 0.5),
                        t.median / o.median,
                    ))
                })
                .collect();
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))?
                .label(pass)
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        }
        chart.draw_series(LineSeries::new(vec![(0.5, 1.0), (n + 0.5, 1.0)], BLACK))?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
    }
    root.present()?;
    Ok(())
}

/// The allocator regime of this run, as scripts/bench_all.sh set it.
fn allocator() -> String {
    match std::env::var("GLIBC_TUNABLES") {
        Ok(t) if t.contains("mmap_threshold") => format!(
            "glibc with `GLIBC_TUNABLES={t}` in every process (large blocks kept in the heap, \
             as `tune_cpu_allocator` sets it)"
        ),
        _ => "glibc's defaults".to_string(),
    }
}

fn main() -> Result<()> {
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let mut py = repo.join("out/bench/python.json");
    let mut crit = repo.join("target/criterion");
    let mut out = repo.join("docs/bench");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().with_context(|| format!("{a} takes a value"))?;
        match a.as_str() {
            "--python" => py = v.into(),
            "--criterion" => crit = v.into(),
            "--out" => out = v.into(),
            o => bail!(
                "unknown option {o}; usage: bench_report [--python F] [--criterion D] [--out D]"
            ),
        }
    }
    let mut table = Table::new();
    criterion(&crit, &mut table)?;
    let doc = python(&py, &mut table)?;
    std::fs::create_dir_all(&out)?;
    let v = &doc["versions"];
    let mut md = String::new();
    writeln!(
        md,
        "Measured by `bash scripts/bench_all.sh` on {} CPU cores ({} torch threads), float32, CPU. \
         Each cell: the median in ms per batch, with criterion's 95% interval of the median \
         (Rust) or the min–max over the runs (Python) in brackets. Python: torch {}, Kornia {}, \
         torchvision {}, Albumentations {}, OpenCV {}. Allocator: {}.\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        doc["threads"],
        v["torch"].as_str().unwrap_or("?"),
        v["kornia"].as_str().unwrap_or("?"),
        v["torchvision"].as_str().unwrap_or("?"),
        v["albumentations"].as_str().unwrap_or("?"),
        v["opencv"].as_str().unwrap_or("?"),
        allocator(),
    )?;
    md += "### The paper pipeline, forward (ms per batch)\n\n";
    md += &paper_table(&table, "forward", &FORWARD_PEERS);
    md += "\n### The paper pipeline, forward + backward (ms per batch)\n\n";
    md += &paper_table(
        &table,
        "forward+backward",
        &[
            "floor (libtorch)",
            "tch-dda (exact)",
            "tch-dda (fast)",
            "Kornia 0.9",
        ],
    );
    md += "\n### One operator per family, 64×3×224² (ms per batch)\n\n";
    md += &family_table(&table);
    let md_path = out.join("report.md");
    std::fs::write(&md_path, &md)?;
    let png = out.join("report.png");
    plot(&table, &png)?;
    println!("{md}\nwrote {} and {}", md_path.display(), png.display());
    Ok(())
}
