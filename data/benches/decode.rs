//! The decoder comparison behind tch-dda-data's choice (docs/data.md): the same JPEG files,
//! in memory, decoded to 8-bit RGB on one thread by
//!
//! - `image` 0.25 (zune-jpeg inside), the loader's path (`decode_image_bytes`: format
//!   guessing, limits, EXIF orientation, the tensor),
//! - zune-jpeg 0.5 on its own,
//! - stb_image through tch (`tch::vision::image::load_from_memory`, already linked),
//!
//! `scripts/bench_decode.py` times Pillow, OpenCV and torchvision.io (libjpeg-turbo) on the
//! same files. Files: `python3 scripts/make_bench_images.py` (target/bench-images).
//!
//! `cargo bench -p tch-dda-peers -p tch-dda-data --bench decode [-- DIR]` (both packages:
//! the build `table1_files` shares): prints milliseconds per image (median of 5 passes) and
//! writes docs/bench/decode_rust.json.

use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bench-images").into());
    tch::set_num_threads(1);
    let data = tch_dda_data::Dataset::image_folder(&dir)?;
    let files: Vec<Vec<u8>> = data
        .samples()
        .iter()
        .map(|s| std::fs::read(&s.path))
        .collect::<Result<_, _>>()?;
    let pixels: usize = {
        let x = tch_dda_data::decode_image_bytes("first", &files[0], u64::MAX)?;
        (x.size()[1] * x.size()[2]) as usize
    };
    type Decoder = Box<dyn Fn(&[u8]) -> anyhow::Result<usize>>;
    let decoders: Vec<(&str, Decoder)> = vec![
        (
            "image 0.25 (zune-jpeg), the loader's path",
            Box::new(|b| {
                let x = tch_dda_data::decode_image_bytes("f", b, tch_dda_data::DEFAULT_MAX_PIXELS)?;
                Ok(x.numel())
            }),
        ),
        (
            "zune-jpeg 0.5 alone",
            Box::new(|b| {
                let mut d = zune_jpeg::JpegDecoder::new(zune_core::bytestream::ZCursor::new(b));
                Ok(d.decode().map_err(|e| anyhow::anyhow!("{e:?}"))?.len())
            }),
        ),
        (
            "stb_image (tch::vision::image)",
            Box::new(|b| Ok(tch::vision::image::load_from_memory(b)?.numel())),
        ),
    ];
    let mut json = Vec::new();
    println!("{} files of about {pixels} pixels, one thread", files.len());
    for (name, decode) in &decoders {
        for f in files.iter().take(20) {
            decode(f)?; // warm-up
        }
        let mut passes = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            for f in &files {
                decode(f)?;
            }
            passes.push(t.elapsed().as_secs_f64() * 1e3 / files.len() as f64);
        }
        passes.sort_by(f64::total_cmp);
        let ms = passes[2];
        println!("{name}: {ms:.2} ms/image ({:.0} images/s)", 1e3 / ms);
        json.push(serde_json::json!({"decoder": name, "ms_per_image": ms}));
    }
    let out = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/bench/decode_rust.json"
    );
    std::fs::write(out, serde_json::to_string_pretty(&json)?)?;
    println!("wrote docs/bench/decode_rust.json");
    Ok(())
}
