//! The README's "Using it" snippet, at a small size, so the documented API keeps compiling
//! and doing what the README says.

use tch::{nn, nn::Module, nn::OptimizerConfig, Device, Kind, Tensor};
use tch_dda::*;

#[test]
fn readme_snippet_runs() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("tch-dda-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let vs = nn::VarStore::new(Device::cuda_if_available());
    let aug = Sequential::new(
        &(vs.root() / "aug"),
        &[
            AugSpec::RandomAffine(RandomAffineConfig {
                degrees: (-30.0, 30.0),
                translate: Some((0.1, 0.1)),
                scale: Some((0.9, 1.1)),
                shear: Some((-10.0, 10.0)),
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::ColorJitter(JitterConfig {
                learnable: true,
                ..JitterConfig::new(0.2, 0.3, 0.2, 0.3)
            }),
            AugSpec::Normalize(NormalizeConfig::imagenet()),
        ],
    )?;
    tch::manual_seed(0);
    let x = Tensor::rand([4, 3, 24, 24], (Kind::Float, vs.device()));
    let y = aug.forward(&x);
    assert_eq!(y.size(), x.size());
    let (y, params) = aug.f_forward_with_params(&x)?;
    assert!(aug.f_apply(&x, &params)?.equal(&y));
    params.save(dir.join("params.safetensors"))?;
    let before = vs
        .trainable_variables()
        .iter()
        .map(|v| v.double_value(&[]))
        .collect::<Vec<_>>();
    assert_eq!(before.len(), 8, "4 learnable ranges of 2 ends");
    let mut opt = nn::Adam::default().build(&vs, 1e-3)?;
    opt.backward_step(&y.mean(Kind::Float));
    let after = vs
        .trainable_variables()
        .iter()
        .map(|v| v.double_value(&[]))
        .collect::<Vec<_>>();
    assert_ne!(before, after);
    std::fs::write(dir.join("aug.json"), aug.to_json()?)?;
    vs.save(dir.join("aug.safetensors"))?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
