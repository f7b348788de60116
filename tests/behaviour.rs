//! Reproducibility, the p gate, learnable ranges under Adam, save/load, JSON pipelines,
//! tch's Module/ModuleT integration, replay, (C,H,W) inputs and inverses.

//!
//! Every test runs once per device (`common::per_device!`): on the CPU, and on CUDA when
//! libtorch was built with it.

mod common;
use common::{all_specs, max_abs_diff, paper_specs};
use tch::nn::{self, Module, ModuleT, OptimizerConfig, VarStore};
use tch::{Device, Kind, Tensor};
use tch_dda::*;

fn image(shape: &[i64], device: Device) -> Tensor {
    tch::manual_seed(42);
    Tensor::rand(shape, (Kind::Float, device))
}

/// `img` for 2D operators; for volumetric ones, `img` repeated along a new depth axis of 5
/// with a ramp added, so the slices differ.
fn fit(aug: &dyn Augmentation, img: &Tensor) -> Tensor {
    if aug.spatial_dims() == 2 {
        return img.shallow_clone();
    }
    let d = img.dim() as i64 - 2;
    let ramp = Tensor::arange(5, (img.kind(), img.device())) / 10.0;
    let mut view = vec![1i64; img.dim() + 1];
    view[d as usize] = 5;
    (img.unsqueeze(d) * 0.5 + ramp.view(view.as_slice())).clamp(0.0, 1.0)
}

fn same_seed_gives_bit_identical_output_and_replay_reproduces_it(device: Device) {
    let _serial = common::serial();
    let vs = VarStore::new(device);
    let img = image(&[4, 3, 13, 17], device);
    for (i, spec) in all_specs().into_iter().enumerate() {
        let aug = spec.build(&(vs.root() / i.to_string())).unwrap();
        let x = fit(&*aug, &img);
        tch::manual_seed(9);
        let (a, params) = aug.forward_with_params(&x);
        tch::manual_seed(9);
        let b = aug.f_forward(&x).unwrap();
        assert!(a.equal(&b), "{}: same seed, different output", aug.name());
        // A different seed changes random operators.
        tch::manual_seed(10);
        let c = aug.f_forward(&x).unwrap();
        assert_eq!(
            !a.equal(&c),
            aug.is_random(),
            "{}: seed has no effect",
            aug.name()
        );
        // Replaying params (after other draws) gives the same output.
        let _ = Tensor::rand([100], (Kind::Float, device));
        let r = aug.f_apply(&x, &params).unwrap();
        assert!(a.equal(&r), "{}: replay differs", aug.name());
    }
}

fn every_operator_runs_in_float32_and_float64_on_a_3_channel_17x23_batch(device: Device) {
    let _serial = common::serial();
    let vs = VarStore::new(device);
    for kind in [Kind::Float, Kind::Double] {
        let img = image(&[2, 3, 17, 23], device).to_kind(kind);
        for (i, spec) in all_specs().into_iter().enumerate() {
            let aug = spec.build(&(vs.root() / i.to_string())).unwrap();
            let x = fit(&*aug, &img);
            let y = aug.f_forward(&x).unwrap();
            assert_eq!(y.kind(), kind, "{}", aug.name());
            assert_eq!(y.size()[..2], [2, 3], "{}", aug.name());
            assert!(
                y.isfinite().all().int64_value(&[]) == 1,
                "{}: non-finite output",
                aug.name()
            );
        }
    }
}

fn gated_off_samples_are_bit_identical_to_the_input(device: Device) {
    let _serial = common::serial();
    let vs = VarStore::new(device);
    let x = image(&[16, 3, 9, 11], device);
    for spec in [
        AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-30.0, 30.0),
            p: 0.5,
            ..Default::default()
        }),
        AugSpec::RandomHorizontalFlip(FlipConfig {
            p: 0.5,
            ..Default::default()
        }),
        AugSpec::ColorJitter(JitterConfig {
            p: 0.5,
            ..JitterConfig::new(0.2, 0.3, 0.2, 0.3)
        }),
        AugSpec::RandomGrayscale(RandomGrayscaleConfig {
            p: 0.5,
            ..Default::default()
        }),
    ] {
        let aug = spec.build(&vs.root()).unwrap();
        tch::manual_seed(1);
        let (y, params) = aug.forward_with_params(&x);
        let gate = params.get("batch_prob").unwrap();
        let on = Vec::<f32>::try_from(gate).unwrap();
        assert!(
            on.contains(&0.0) && on.contains(&1.0),
            "{}: seed gives a one-sided gate",
            aug.name()
        );
        for (i, &g) in on.iter().enumerate() {
            let same = y.get(i as i64).equal(&x.get(i as i64));
            assert_eq!(same, g == 0.0, "{}: sample {i} gate {g}", aug.name());
        }
    }
}

fn unbatched_input_is_accepted_and_returned_unbatched(device: Device) {
    let _serial = common::serial();
    let vs = VarStore::new(device);
    let img = image(&[3, 13, 17], device);
    for (i, spec) in all_specs().into_iter().enumerate() {
        let aug = spec.build(&(vs.root() / i.to_string())).unwrap();
        let x = fit(&*aug, &img);
        tch::manual_seed(2);
        let (y, params) = aug.forward_with_params(&x);
        assert_eq!(
            y.dim(),
            x.dim(),
            "{}: unbatched in, unbatched out",
            aug.name()
        );
        let batched = aug.f_apply(&x.unsqueeze(0), &params).unwrap();
        assert!(batched.squeeze_dim(0).equal(&y), "{}", aug.name());
    }
}

fn adam_moves_learnable_ranges_and_the_next_draw_uses_them(device: Device) {
    let _serial = common::serial();
    let vs = VarStore::new(device);
    let cfg = JitterConfig {
        learnable: Learnable::All,
        ..JitterConfig::new(0.2, 0.3, 0.2, 0.1)
    };
    let jitter = ColorJitter::new(&(vs.root() / "jitter"), cfg).unwrap();
    let before: Vec<(f64, f64)> = jitter.ranges().iter().map(|r| r.values()).collect();
    tch::manual_seed(0);
    let before_draw = jitter.sample(&[8, 3, 4, 4], device).unwrap();
    let mut opt = nn::Adam::default().build(&vs, 0.05).unwrap();
    let x = image(&[8, 3, 6, 6], device);
    // Push the mean brightness of the output up.
    let loss = -jitter.forward(&x).mean(Kind::Float);
    opt.backward_step(&loss);
    let after: Vec<(f64, f64)> = jitter.ranges().iter().map(|r| r.values()).collect();
    assert!(
        after[0].0 > before[0].0 && after[0].1 > before[0].1,
        "brightness did not grow: {before:?} -> {after:?}"
    );
    for (b, a) in before.iter().zip(&after) {
        assert_ne!(b, a, "a range did not move");
    }
    // Same seed, new values: the draw is lo' + u (hi' - lo') with the same u.
    tch::manual_seed(0);
    let after_draw = jitter.sample(&[8, 3, 4, 4], device).unwrap();
    let (lo, hi) = before[0];
    let (lo2, hi2) = after[0];
    let u = (before_draw.get("brightness_factor").unwrap() - lo) / (hi - lo);
    let expected = u * (hi2 - lo2) + lo2;
    let d = max_abs_diff(after_draw.get("brightness_factor").unwrap(), &expected);
    assert!(d < 1e-5, "next draw does not use the updated range: {d}");
}

fn varstore_and_json_round_trip_rebuild_the_same_pipeline(device: Device) {
    let _serial = common::serial();
    let dir = std::env::temp_dir().join(format!("tch-dda-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = image(&[4, 3, 16, 16], device);

    let mut vs = VarStore::new(device);
    let seq = Sequential::new(&(vs.root() / "aug"), paper_specs(true)).unwrap();
    // Train a little so the state differs from the config.
    let mut opt = nn::Adam::default().build(&vs, 0.1).unwrap();
    for _ in 0..3 {
        let loss = seq.forward(&x).mean(Kind::Float);
        opt.backward_step(&loss);
    }
    vs.save(dir.join("aug.safetensors")).unwrap();
    std::fs::write(dir.join("aug.json"), seq.to_json().unwrap()).unwrap();
    tch::manual_seed(3);
    let expected = seq.forward(&x);

    let mut vs2 = VarStore::new(device);
    let json = std::fs::read_to_string(dir.join("aug.json")).unwrap();
    let seq2 = Sequential::from_json(&(vs2.root() / "aug"), &json).unwrap();
    assert_eq!(seq2.specs(), seq.specs());
    tch::manual_seed(3);
    assert!(
        !seq2.forward(&x).equal(&expected),
        "untrained copy should differ"
    );
    vs2.load(dir.join("aug.safetensors")).unwrap();
    tch::manual_seed(3);
    assert!(seq2.forward(&x).equal(&expected), "loaded pipeline differs");
    let _ = vs2.trainable_variables();
    vs.freeze();
    std::fs::remove_dir_all(&dir).unwrap();
}

fn params_save_load_and_replay(device: Device) {
    let _serial = common::serial();
    let dir = std::env::temp_dir().join(format!("tch-dda-params-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vs = VarStore::new(device);
    let seq = Sequential::new(vs.root(), paper_specs(false)).unwrap();
    let x = image(&[3, 3, 16, 16], device);
    let (y, params) = seq.forward_with_params(&x);
    assert!(params.keys().any(|k| k == "0.angle") && params.keys().any(|k| k == "1.order"));
    params.save(dir.join("p.safetensors")).unwrap();
    let loaded = Params::load(dir.join("p.safetensors"), device).unwrap();
    assert_eq!(loaded.len(), params.len());
    assert!(seq.apply(&x, &loaded).equal(&y));
    let typed = AffineParams::try_from(&loaded.sub("0")).unwrap();
    assert_eq!(typed.angle.size(), [3]);
    let jitter = JitterParams::try_from(&loaded.sub("1")).unwrap();
    assert_eq!(jitter.order.size(), [4]);
    let crop = CropParams::try_from(&loaded.sub("3")).unwrap();
    assert_eq!(crop.src.size(), [3, 4, 2]);
    assert!(GateParams::try_from(&loaded.sub("2")).is_ok());
    // Back to a map, and the replay is unchanged.
    let mut rebuilt = Params::new();
    rebuilt.extend_prefixed("0", &typed.into());
    for i in 1..5 {
        rebuilt.extend_prefixed(&i.to_string(), &loaded.sub(&i.to_string()));
    }
    assert!(seq.apply(&x, &rebuilt).equal(&y));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn augmentations_are_modules_next_to_conv2d_and_train_only_is_identity_in_eval(device: Device) {
    let _serial = common::serial();
    let vs = VarStore::new(device);
    let root = vs.root();
    let affine = RandomAffine::new(
        &(&root / "affine"),
        RandomAffineConfig {
            degrees: (-30.0, 30.0),
            p: 1.0,
            ..Default::default()
        },
    )
    .unwrap();
    let conv = nn::conv2d(&root / "conv", 3, 4, 3, Default::default());
    let model = nn::seq().add(affine).add(conv);
    let x = image(&[2, 3, 10, 10], device);
    assert_eq!(model.forward(&x).size(), [2, 4, 8, 8]);

    let jitter = ColorJitter::new(&(&root / "jitter"), JitterConfig::new(0.5, 0.5, 0.5, 0.2))
        .unwrap()
        .train_only();
    let norm = Normalize::new(&root, NormalizeConfig::imagenet())
        .unwrap()
        .train_only();
    let crop = CenterCrop::new(
        &root,
        CenterCropConfig {
            size: (6, 6),
            ..Default::default()
        },
    )
    .unwrap()
    .train_only();
    let t = nn::seq_t().add(jitter).add(crop).add(norm);
    let eval = t.forward_t(&x, false);
    let expected = Normalize::new(&root, NormalizeConfig::imagenet())
        .unwrap()
        .forward(&x.narrow(2, 2, 6).narrow(3, 2, 6));
    assert!(
        eval.equal(&expected),
        "eval: jitter must be identity, crop and normalize must apply"
    );
    let train = t.forward_t(&x, true);
    assert!(!train.equal(&expected), "train: jitter must apply");
}

/// In evaluation a `Sequential` applies its deterministic steps and skips its random ones,
/// nested containers, the fast mode, a random selection and uint8 input included; the
/// README's quick-start pipeline evaluates on normalised images.
fn a_sequential_in_evaluation_applies_its_deterministic_steps(device: Device) {
    let _serial = common::serial();
    let vs = VarStore::new(device);
    let root = vs.root();
    let x = image(&[3, 3, 12, 14], device);
    let imagenet = Normalize::new(&root, NormalizeConfig::imagenet()).unwrap();
    let crop = |h, w| {
        AugSpec::CenterCrop(CenterCropConfig {
            size: (h, w),
            ..Default::default()
        })
    };
    let affine = || AugSpec::RandomAffine(RandomAffineConfig::degrees(30.0).p(1.0));
    let erasing = || AugSpec::RandomErasing(ErasingConfig::default());
    let jitter = || AugSpec::ColorJitter(JitterConfig::new(0.2, 0.3, 0.2, 0.3));
    let normalize = || AugSpec::Normalize(NormalizeConfig::imagenet());
    let seq = |name: &str, cfg: SequentialConfig| Sequential::new(&root / name, cfg).unwrap();

    // Random and deterministic steps: only Normalize applies.
    let issue = seq(
        "issue",
        SequentialConfig::new(vec![affine(), erasing(), normalize()]),
    );
    let expected = imagenet.forward(&x);
    let layer = issue.train_only();
    assert!(layer.forward_t(&x, false).equal(&expected));
    assert!(
        !layer.forward_t(&x, true).equal(&expected),
        "train augments"
    );
    let issue = layer.0;

    // uint8 as decoded: float32 x / 255 in both modes.
    let bytes = (&x * 255.0).round().to_kind(Kind::Uint8);
    let eval = issue.f_forward_eval(&bytes).unwrap();
    assert_eq!(eval.kind(), Kind::Float);
    assert!(eval.equal(&imagenet.forward(&(bytes.to_kind(Kind::Float) / 255.0))));
    assert_eq!(issue.f_forward(&bytes).unwrap().kind(), Kind::Float);

    // An unbatched input comes back unbatched.
    let one = x.get(0);
    assert!(issue
        .f_forward_eval(&one)
        .unwrap()
        .equal(&imagenet.forward(&one)));

    // Nested, in order: the inner crop, then Normalize; the fast mode and a random selection
    // apply their deterministic steps too, unfused.
    let nested = SequentialConfig::new(vec![
        AugSpec::Sequential(SequentialConfig::new(vec![affine(), crop(8, 9)])),
        jitter(),
        normalize(),
    ]);
    let fast = SequentialConfig::fast(vec![affine(), crop(8, 9), jitter(), normalize()]);
    let selection = SequentialConfig {
        random_apply: RandomApply::Exactly(1),
        ..SequentialConfig::new(vec![affine(), crop(8, 9), jitter(), normalize()])
    };
    let cropped = imagenet.forward(&x.narrow(2, 2, 8).narrow(3, 2, 9));
    for (name, cfg) in [("nested", nested), ("fast", fast), ("selection", selection)] {
        let s = seq(name, cfg);
        for _ in 0..3 {
            assert!(s.f_forward_eval(&x).unwrap().equal(&cropped), "{name}");
        }
    }

    // Only deterministic steps: the training forward itself.
    let det = seq("det", SequentialConfig::fast(vec![crop(8, 9), normalize()]));
    assert!(det
        .f_forward_eval(&x)
        .unwrap()
        .equal(&det.f_forward(&x).unwrap()));

    // Only random steps: the input itself.
    let random = seq("random", SequentialConfig::new(vec![affine(), jitter()]));
    assert!(random.f_forward_eval(&x).unwrap().equal(&x));

    // The README's quick-start pipeline in a seq_t.
    let readme = seq(
        "readme",
        SequentialConfig::new(vec![
            AugSpec::RandomAffine(
                RandomAffineConfig::degrees(30.0)
                    .translate(0.1, 0.1)
                    .scale(0.9, 1.1)
                    .shear(10.0)
                    .p(1.0),
            ),
            AugSpec::ColorJitter(JitterConfig {
                learnable: Learnable::only(["brightness", "contrast"]),
                ..JitterConfig::new(0.2, 0.3, 0.2, 0.3)
            }),
            normalize(),
        ]),
    );
    let model = nn::seq_t().add(readme.train_only());
    assert!(model.forward_t(&x, false).equal(&expected));
    let eval = model.forward_t(&bytes, false);
    assert_eq!(
        eval.kind(),
        Kind::Float,
        "uint8 in evaluation: float32, as in training"
    );
    assert!(eval.equal(&imagenet.forward(&(bytes.to_kind(Kind::Float) / 255.0))));
}

fn inverse_undoes_the_geometry(device: Device) {
    let _serial = common::serial();
    let vs = VarStore::new(device);
    let x = image(&[4, 3, 21, 25], device);
    // Flips are their own inverse, exactly.
    let flip = RandomHorizontalFlip::new(vs.root(), FlipConfig::default()).unwrap();
    tch::manual_seed(4);
    let (y, p) = flip.forward_with_params(&x);
    assert!(flip.inverse(&y, &p, &x.size()).equal(&x));
    // An affine warp and its inverse: the centre comes back up to interpolation blur.
    let affine = RandomAffine::new(
        vs.root(),
        RandomAffineConfig {
            degrees: (-20.0, 20.0),
            scale: Some((1.0, 1.2)),
            p: 1.0,
            align_corners: true,
            ..Default::default()
        },
    )
    .unwrap();
    let smooth = x.avg_pool2d([5, 5], [1, 1], [2, 2], false, true, None::<i64>);
    let (y, p) = affine.forward_with_params(&smooth);
    let back = affine.inverse(&y, &p, &x.size());
    let centre = |t: &Tensor| t.narrow(2, 7, 7).narrow(3, 9, 7);
    let err = max_abs_diff(&centre(&back), &centre(&smooth));
    assert!(err < 0.05, "inverse error {err}");
    // A perspective warp and its inverse.
    let persp = RandomPerspective::new(
        vs.root(),
        PerspectiveConfig {
            distortion_scale: 0.3,
            p: 1.0,
            align_corners: true,
            ..Default::default()
        },
    )
    .unwrap();
    let (y, p) = persp.forward_with_params(&smooth);
    let back = persp.inverse(&y, &p, &x.size());
    let err = max_abs_diff(&centre(&back), &centre(&smooth));
    let moved = max_abs_diff(&centre(&y), &centre(&smooth));
    // Two bilinear resamplings blur a little; the inverse must still undo most of the move.
    assert!(
        err < 0.1 && err < moved / 2.0,
        "perspective inverse error {err} (warp moved {moved})"
    );
    // The matrix maps the start corners onto the end corners.
    let m = persp
        .f_transform_matrix(&x.size(), &p, Kind::Float, device)
        .unwrap();
    let start = p.get("start_points").unwrap();
    let ones = start.ones_like().narrow(2, 0, 1);
    let mapped = Tensor::cat(&[start, &ones], 2).matmul(&m.transpose(1, 2));
    let mapped = mapped.narrow(2, 0, 2) / mapped.narrow(2, 2, 1);
    assert!(max_abs_diff(&mapped, p.get("end_points").unwrap()) < 1e-3);
    // The matrix of a crop moves the crop's corner to the origin.
    let crop = RandomCrop::new(
        vs.root(),
        RandomCropConfig {
            size: (5, 6),
            ..Default::default()
        },
    )
    .unwrap();
    let (_, p) = crop.forward_with_params(&x);
    let m = crop
        .f_transform_matrix(&x.size(), &p, Kind::Float, device)
        .unwrap();
    let corner = p.get("src").unwrap().select(1, 0);
    let moved = m
        .narrow(1, 0, 2)
        .narrow(2, 0, 2)
        .matmul(&corner.unsqueeze(-1))
        .squeeze_dim(-1)
        + m.narrow(1, 0, 2).select(2, 2);
    assert!(moved.abs().max().double_value(&[]) < 1e-6);
}

fn solarize_straight_through_keeps_the_forward_and_gives_the_threshold_a_gradient(device: Device) {
    let _serial = common::serial();
    let x = image(&[4, 3, 8, 8], device);
    let mut grads = Vec::new();
    let mut outs = Vec::new();
    for straight_through in [false, true] {
        let vs = VarStore::new(device);
        let cfg = SolarizeConfig {
            p: 1.0,
            learnable: Learnable::All,
            straight_through,
            ..Default::default()
        };
        let sol = RandomSolarize::new(&(vs.root() / "s"), cfg).unwrap();
        tch::manual_seed(8);
        let y = sol.forward(&x);
        y.sum(Kind::Float).backward();
        let g = sol.thresholds().lo().grad();
        grads.push(if g.defined() {
            g.abs().double_value(&[])
        } else {
            0.0
        });
        outs.push(y.detach());
    }
    assert!(
        outs[0].equal(&outs[1]),
        "the straight-through option changed the forward output"
    );
    assert_eq!(
        grads[0], 0.0,
        "without the option the threshold gets no gradient (as in Kornia)"
    );
    assert!(
        grads[1] > 0.0,
        "with the option the threshold gets a gradient"
    );
}

fn equalize_straight_through_keeps_the_forward_and_passes_the_gradient(device: Device) {
    let _serial = common::serial();
    // 32x32 pixels: every channel has a non-zero step (a channel with step 0 is passed
    // through unchanged, with its identity gradient, as in Kornia).
    let x = image(&[2, 3, 32, 32], device);
    let mut grads = Vec::new();
    let mut outs = Vec::new();
    for straight_through in [false, true] {
        let vs = VarStore::new(device);
        let eq = RandomEqualize::new(
            vs.root(),
            EqualizeConfig {
                p: 1.0,
                straight_through,
                ..Default::default()
            },
        )
        .unwrap();
        let xg = x.detach().set_requires_grad(true);
        let y = eq.forward(&xg);
        (&y * &x).sum(Kind::Float).backward();
        grads.push(xg.grad().abs().sum(Kind::Float).double_value(&[]));
        outs.push(y.detach());
    }
    assert!(
        outs[0].equal(&outs[1]),
        "the straight-through option changed the forward output"
    );
    assert_eq!(
        grads[0], 0.0,
        "equalization is piecewise constant: no gradient without the option"
    );
    assert!(
        grads[1] > 0.0,
        "with the option the gradient passes through"
    );
}

fn posterize_and_autocontrast_straight_through_keep_the_forward(device: Device) {
    let _serial = common::serial();
    let x = image(&[4, 3, 8, 8], device);
    // Posterize: without the option, no gradient to the input (bits < 8) or to the bits;
    // with it, both get one and the output is unchanged.
    let mut outs = Vec::new();
    let mut grads = Vec::new();
    for straight_through in [false, true] {
        let vs = VarStore::new(device);
        let cfg = PosterizeConfig {
            bits: (2.0, 6.0),
            p: 1.0,
            learnable: Learnable::All,
            straight_through,
            ..Default::default()
        };
        let post = RandomPosterize::new(&(vs.root() / "p"), cfg).unwrap();
        let xg = x.detach().set_requires_grad(true);
        tch::manual_seed(3);
        let y = post.forward(&xg);
        (&y * &x).sum(Kind::Float).backward();
        let gb = post.bits().lo().grad();
        let gb = if gb.defined() {
            gb.abs().double_value(&[])
        } else {
            0.0
        };
        grads.push((xg.grad().abs().sum(Kind::Float).double_value(&[]), gb));
        outs.push(y.detach());
    }
    assert!(outs[0].equal(&outs[1]));
    assert_eq!(grads[0], (0.0, 0.0), "posterize is piecewise constant");
    assert!(
        grads[1].0 > 0.0 && grads[1].1 > 0.0,
        "straight-through gradients: {:?}",
        grads[1]
    );
    // AutoContrast: same output with and without the option.
    let vs = VarStore::new(device);
    let plain = RandomAutoContrast::new(vs.root(), AutoContrastConfig::default()).unwrap();
    let st = RandomAutoContrast::new(
        vs.root(),
        AutoContrastConfig {
            straight_through: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(plain.forward(&x).equal(&st.forward(&x)));
    let xg = x.detach().set_requires_grad(true);
    st.forward(&xg).sum(Kind::Float).backward();
    let g = xg.grad();
    assert!(
        g.ones_like().equal(&g),
        "straight-through AutoContrast: the identity gradient"
    );
}

fn for_every_operator_with_p_below_1_gated_off_samples_are_bit_identical(device: Device) {
    let _serial = common::serial();
    let vs = VarStore::new(device);
    let img = image(&[16, 3, 13, 17], device);
    let mut checked = 0;
    for (i, spec) in all_specs().into_iter().enumerate() {
        let aug = spec.build(&(vs.root() / i.to_string())).unwrap();
        let x = fit(&*aug, &img);
        if aug.probabilities().0 >= 1.0 || aug.output_shape(&x.size()) != x.size() {
            continue;
        }
        tch::manual_seed(21);
        let (y, params) = aug.forward_with_params(&x);
        let on = Vec::<f32>::try_from(params.get("batch_prob").unwrap()).unwrap();
        assert!(
            on.contains(&0.0) && on.contains(&1.0),
            "{}: one-sided gate",
            aug.name()
        );
        for (k, &g) in on.iter().enumerate() {
            if g == 0.0 {
                assert!(
                    y.get(k as i64).equal(&x.get(k as i64)),
                    "{}: gated-off sample {k} changed",
                    aug.name()
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} operators were gated");
}

fn every_operator_rejects_a_wrong_rank_and_an_integer_input_with_its_name(device: Device) {
    // Serial too: no_forward_waits_for_the_device sets a global debug mode meanwhile.
    let _serial = common::serial();
    let vs = VarStore::new(device);
    let flat = Tensor::zeros([5, 7], (Kind::Float, device));
    let ints = Tensor::zeros([2, 3, 5, 7], (Kind::Int, device));
    for (i, spec) in all_specs().into_iter().enumerate() {
        let aug = spec.build(&(vs.root() / i.to_string())).unwrap();
        let name = aug.name();
        let ranks = if aug.spatial_dims() == 3 {
            "4 (C,D,H,W) or 5 (B,C,D,H,W)"
        } else {
            "3 (C,H,W) or 4 (B,C,H,W)"
        };
        assert_eq!(
            aug.f_forward(&flat).unwrap_err().to_string(),
            format!("{name}: expected an input of rank {ranks}, got shape [5, 7]")
        );
        assert_eq!(
            aug.f_forward(&ints).unwrap_err().to_string(),
            format!("{name}: expected a floating point input (float32 or float64), got Int; convert it first, e.g. `x.to_kind(Kind::Float) / 255.0` for uint8 images in [0, 255]")
        );
    }
}

common::per_device!(
    same_seed_gives_bit_identical_output_and_replay_reproduces_it,
    every_operator_runs_in_float32_and_float64_on_a_3_channel_17x23_batch,
    gated_off_samples_are_bit_identical_to_the_input,
    unbatched_input_is_accepted_and_returned_unbatched,
    adam_moves_learnable_ranges_and_the_next_draw_uses_them,
    varstore_and_json_round_trip_rebuild_the_same_pipeline,
    params_save_load_and_replay,
    augmentations_are_modules_next_to_conv2d_and_train_only_is_identity_in_eval,
    inverse_undoes_the_geometry,
    a_sequential_in_evaluation_applies_its_deterministic_steps,
    solarize_straight_through_keeps_the_forward_and_gives_the_threshold_a_gradient,
    equalize_straight_through_keeps_the_forward_and_passes_the_gradient,
    posterize_and_autocontrast_straight_through_keep_the_forward,
    for_every_operator_with_p_below_1_gated_off_samples_are_bit_identical,
    every_operator_rejects_a_wrong_rank_and_an_integer_input_with_its_name,
);

/// CUDA's sync debug mode (`torch.cuda.set_sync_debug_mode` in Python): libtorch keeps the
/// level in one global, the static in `c10::cuda::warning_state()` (an enum: 0 off, 1 warn,
/// 2 error), which tch does not expose; its address is looked up by its symbol in the
/// loaded libc10_cuda. Returns the previous level, or `None` when no CUDA library is loaded.
#[cfg_attr(not(tch_dda_cuda), allow(dead_code))]
fn set_sync_debug_mode(level: i32) -> Option<i32> {
    extern "C" {
        fn dlsym(
            handle: *mut std::ffi::c_void,
            symbol: *const std::ffi::c_char,
        ) -> *mut std::ffi::c_void;
    }
    let symbol = c"_ZZN3c104cuda13warning_stateEvE14warning_state_";
    // RTLD_DEFAULT (a null handle): every library loaded.
    let state = unsafe { dlsym(std::ptr::null_mut(), symbol.as_ptr()) } as *mut i32;
    (!state.is_null()).then(|| unsafe { std::ptr::replace(state, level) })
}

/// Every registered operator's forward, and the paper pipeline's in both modes, under CUDA's
/// sync debug mode set to error: a forward that waits for the device (a value read on the
/// host, a copy from pageable host memory, `nonzero`) stops there with libtorch's error.
/// The rule: every per-sample value is drawn on the device, nothing is read back. Prints one
/// `HOSTSYNC` line per forward (scripts/run_on_device.sh collects them).
#[cfg(tch_dda_cuda)]
#[test]
fn no_forward_waits_for_the_device() {
    let _serial = common::serial();
    let device = Device::Cuda(0);
    let vs = VarStore::new(device);
    let img = image(&[4, 3, 13, 17], device);
    let mut augs: Vec<Box<dyn Augmentation>> = all_specs()
        .into_iter()
        .enumerate()
        .map(|(i, spec)| spec.build(&(vs.root() / i.to_string())).unwrap())
        .collect();
    for (name, fast) in [("exact", false), ("fast", true)] {
        let steps = paper_specs(false);
        let cfg = if fast {
            SequentialConfig::fast(steps)
        } else {
            SequentialConfig::new(steps)
        };
        augs.push(Box::new(Sequential::new(vs.root() / name, cfg).unwrap()));
    }
    // The check itself must see a wait: a value read on the host.
    let probe = set_sync_debug_mode(2).expect("libc10_cuda's sync debug state");
    let read = img.sum(Kind::Float).f_double_value(&[]);
    set_sync_debug_mode(probe);
    assert!(
        read.is_err(),
        "the sync debug mode did not stop a host read"
    );

    let mut waits = Vec::new();
    for (i, aug) in augs.iter().enumerate() {
        let x = fit(&**aug, &img);
        let xg = x.detach().set_requires_grad(true);
        tch::Cuda::synchronize(0);
        for (pass, input) in [("forward", &x), ("forward with a graph", &xg)] {
            let was = set_sync_debug_mode(2).unwrap();
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                aug.f_forward(input).map(|_| ()).map_err(|e| e.to_string())
            }));
            set_sync_debug_mode(was);
            let error = match result {
                Ok(Ok(())) => None,
                Ok(Err(e)) => Some(e),
                Err(panic) => Some(
                    panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_default(),
                ),
            };
            let label = format!("{} #{i} {pass}", aug.name());
            match error {
                None => println!("HOSTSYNC {label}: ok"),
                Some(e) => {
                    let first = e.lines().next().unwrap_or("").to_string();
                    println!("HOSTSYNC {label}: waits: {first}");
                    waits.push(label);
                }
            }
        }
    }
    assert!(
        waits.is_empty(),
        "forwards that wait for the device: {waits:?}"
    );
}
