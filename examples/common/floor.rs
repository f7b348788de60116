//! The paper pipeline, the libtorch floor and Table 1's network, shared by
//! examples/floor.rs, examples/device_bench.rs, benches/paper_pipeline.rs and the peers
//! crate (included with `#[path]`).
#![allow(dead_code)]

use tch::{nn, nn::OptimizerConfig, Device, Kind, Tensor};
use tch_dda::*;

/// The paper's pipeline: RandomAffine(30°, translate 0.1, scale 0.9–1.1, shear 10) +
/// ColorJitter(0.2, 0.3, 0.2, 0.3) + Normalize(ImageNet), all p = 1.
pub fn paper_steps() -> Vec<AugSpec> {
    vec![
        AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-30.0, 30.0),
            translate: Some((0.1, 0.1)),
            scale: Some((0.9, 1.1)),
            shear: Some((-10.0, 10.0)),
            p: 1.0,
            ..Default::default()
        }),
        AugSpec::ColorJitter(JitterConfig::new(0.2, 0.3, 0.2, 0.3)),
        AugSpec::Normalize(NormalizeConfig::imagenet()),
    ]
}

/// The paper pipeline in the exact mode (`fast = false`, equal to Kornia) or the fast mode
/// ([`SequentialConfig::fast`]).
pub fn paper_config(fast: bool) -> SequentialConfig {
    if fast {
        SequentialConfig::fast(paper_steps())
    } else {
        SequentialConfig::new(paper_steps())
    }
}

/// The paper pipeline in `vs`, under `exact` or `fast`.
pub fn paper_pipeline(vs: &nn::VarStore, fast: bool) -> tch_dda::Result<Sequential> {
    let name = if fast { "fast" } else { "exact" };
    Sequential::new(vs.root() / name, paper_config(fast))
}

/// Table 1's network and optimiser after `manual_seed(0)`: ResNet18 with 10 classes (tch's
/// `vision::resnet`) and SGD (learning rate 0.01, momentum 0.9), in a VarStore of their own.
pub fn table1_net(
    device: Device,
) -> std::result::Result<(nn::VarStore, nn::FuncT<'static>, nn::Optimizer), tch::TchError> {
    tch::manual_seed(0);
    let vs = nn::VarStore::new(device);
    let net = tch::vision::resnet::resnet18(&vs.root(), 10);
    let opt = nn::Sgd {
        momentum: 0.9,
        ..Default::default()
    }
    .build(&vs, 0.01)?;
    Ok((vs, net, opt))
}

/// What no augmentation library can go below with libtorch ops, drawing its own per-sample
/// values as a pipeline would: one `affine_grid` + `grid_sample` with per-sample matrices,
/// one `x·a + b` clamp pass (a lower bound for the colour steps: no saturation, no hue) and
/// the normalisation.
pub fn floor(x: &Tensor) -> Tensor {
    let s = x.size();
    let (b, device) = (s[0], x.device());
    let opts = (Kind::Float, device);
    let angle = (Tensor::rand([b], opts) * 2.0 - 1.0) * (30f64.to_radians());
    let scale = Tensor::rand([b], opts) * 0.2 + 0.9;
    let (cos, sin) = (angle.cos() * &scale, angle.sin() * &scale);
    let t = (Tensor::rand([b, 2], opts) * 2.0 - 1.0) * 0.2;
    let theta = Tensor::stack(
        &[
            cos.shallow_clone(),
            -&sin,
            t.select(1, 0),
            sin,
            cos,
            t.select(1, 1),
        ],
        1,
    )
    .view([b, 2, 3]);
    let grid = Tensor::affine_grid_generator(&theta, s.as_slice(), false);
    let y = Tensor::grid_sampler(x, &grid, 0, 0, false);
    let a = Tensor::rand([b, 1, 1, 1], opts) * 0.6 + 0.7;
    let c = Tensor::rand([b, 1, 1, 1], opts) * 0.4 - 0.2;
    let y = (y * a + c).clamp(0.0, 1.0);
    let mean = Tensor::from_slice(&[0.485f32, 0.456, 0.406])
        .to_device(device)
        .view([1, 3, 1, 1]);
    let std = Tensor::from_slice(&[0.229f32, 0.224, 0.225])
        .to_device(device)
        .view([1, 3, 1, 1]);
    (y - mean) / std
}
