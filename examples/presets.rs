//! The auto-augment presets (Kornia's `kornia.augmentation.auto`, equal to it draw for draw):
//! AutoAugment's ImageNet policy, RandAugment(n = 2, m = 9) and TrivialAugment, on the sample
//! photos, as one pipeline saved and rebuilt from JSON; then their time per batch.
//!
//! `cargo run --release --example presets [-- out/presets.png]`

mod common;
use anyhow::Result;
use tch::{nn, Kind, Tensor};
use tch_dda::*;

fn main() -> Result<()> {
    let device = common::default_device();
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/out/presets.png").into());
    let photos = common::load_photos(160, device)?;
    let vs = nn::VarStore::new(device);
    let specs = [
        AugSpec::AutoAugment(AutoAugmentConfig::named(NamedPolicy::Imagenet)),
        AugSpec::RandAugment(RandAugmentConfig::new(2, 9.0)),
        AugSpec::TrivialAugment(TrivialAugmentConfig::default()),
    ];
    // Each preset is a step like any other: JSON out, JSON in.
    let json = Sequential::new(vs.root() / "all", specs.to_vec())?.to_json()?;
    let again = Sequential::from_json(vs.root() / "again", &json)?;
    assert_eq!(again.to_json()?, json);
    println!(
        "the three presets as one pipeline: {} bytes of JSON, rebuilt from it",
        json.len()
    );
    let mut rows = vec![photos.shallow_clone()];
    for (i, spec) in specs.iter().enumerate() {
        let aug = spec.build(&(vs.root() / i.to_string()))?;
        tch::manual_seed(7 + i as i64);
        for _ in 0..2 {
            let (out, params) = aug.f_forward_with_params(&photos)?;
            let choice = Vec::<i64>::try_from(params.get("choice").unwrap())?;
            println!("{:<14} chose sub-policies {choice:?}", aug.name());
            rows.push(out);
        }
    }
    common::write_grid(&rows, &path)?;
    println!("wrote {path} (rows: the photos, then two draws each of AutoAugment, RandAugment, TrivialAugment)");

    // Time per batch of 64×3×224×224 (median of 7 after a warm-up).
    let x = Tensor::rand([64, 3, 224, 224], (Kind::Float, device));
    for (i, spec) in specs.iter().enumerate() {
        let aug = spec.build(&(vs.root() / format!("t{i}")))?;
        let _guard = tch::no_grad_guard();
        let _ = aug.f_forward(&x)?;
        let mut ms: Vec<f64> = (0..7)
            .map(|_| -> Result<f64> {
                common::sync(device);
                let t = std::time::Instant::now();
                let _ = aug.f_forward(&x)?;
                common::sync(device);
                Ok(t.elapsed().as_secs_f64() * 1e3)
            })
            .collect::<Result<_>>()?;
        ms.sort_by(f64::total_cmp);
        println!(
            "{:<14} {:.1} ms per batch of 64×3×224×224 (median of 7; min {:.1}, max {:.1})",
            aug.name(),
            ms[3],
            ms[0],
            ms[6]
        );
    }
    Ok(())
}
