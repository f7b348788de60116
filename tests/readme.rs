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
                learnable: Learnable::All,
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

/// The README's "Volumes (3D)" and "Mixing with labels" snippets, at a small size.
#[test]
fn readme_volume_and_mix_snippets_run() -> anyhow::Result<()> {
    let vs = nn::VarStore::new(Device::cuda_if_available());
    let aug = Sequential::new(
        &(vs.root() / "aug3d"),
        &[
            AugSpec::RandomAffine3D(Affine3DConfig {
                degrees: [(-15.0, 15.0); 3],
                translate: Some((0.1, 0.1, 0.1)),
                scale: Some(Scale3D::Isotropic((0.9, 1.1))),
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::RandomDepthicalFlip3D(FlipConfig::default()),
            AugSpec::RandomCrop3D(RandomCrop3DConfig {
                size: [4, 6, 6],
                ..Default::default()
            }),
        ],
    )?;
    let ct = Tensor::rand([4, 1, 6, 8, 8], (Kind::Float, vs.device()));
    let (y, params) = aug.f_forward_with_params(&ct)?;
    assert_eq!(y.size(), [4, 1, 4, 6, 6]);
    let m = aug.f_transform_matrix(&ct.size(), &params, Kind::Float, vs.device())?;
    assert_eq!(m.size(), [4, 4, 4]);

    let net = nn::seq().add_fn(|x| x.flatten(1, -1)).add(nn::linear(
        vs.root() / "fc",
        3 * 4 * 4,
        5,
        Default::default(),
    ));
    let mut opt = nn::Adam::default().build(&vs, 1e-3)?;
    let images = Tensor::rand([6, 3, 4, 4], (Kind::Float, vs.device()));
    let class_ids = Tensor::from_slice(&[0i64, 1, 2, 3, 4, 0]).to_device(vs.device());
    let mixup = RandomMixUp::new(&(vs.root() / "mixup"), MixUpConfig::default())?;
    let (x, labels) = mixup.f_forward_with_labels(&images, &class_ids)?;
    assert_eq!(labels.size(), [6, 3]);
    let loss = mixup.f_cross_entropy(&net.forward(&x), &labels)?;
    assert!(loss.double_value(&[]).is_finite());
    opt.backward_step(&loss);
    Ok(())
}

/// The README's "Annotations, geometry and containers" snippet, at a small size.
#[test]
fn readme_annotations_snippet_runs() -> anyhow::Result<()> {
    let device = Device::cuda_if_available();
    let images = Tensor::rand([2, 3, 64, 80], (Kind::Float, device));
    let masks = Tensor::randint(3, [2, 64, 80], (Kind::Int64, device));
    let boxes_per_image = [
        Tensor::from_slice(&[4.0f32, 6., 30., 40., 20., 10., 70., 50.]).view([2, 4]),
        Tensor::from_slice(&[10.0f32, 10., 20., 20.]).view([1, 4]),
    ];
    let ids_per_image = [Tensor::from_slice(&[1i64, 2]), Tensor::from_slice(&[3i64])];
    let points = Tensor::from_slice(&[12.0f32, 20., 40., 30.])
        .view([1, 2, 2])
        .repeat([2, 1, 1])
        .to_device(device);

    let vs = nn::VarStore::new(Device::cuda_if_available());
    let aug = Sequential::new(
        &(vs.root() / "det"),
        SequentialConfig {
            annotations: AnnotationOptions {
                clip_boxes: true,
                min_visibility: 0.3,
                ..Default::default()
            },
            ..SequentialConfig::new(vec![
                AugSpec::RandomAffine(RandomAffineConfig {
                    degrees: (-20.0, 20.0),
                    p: 1.0,
                    ..Default::default()
                }),
                AugSpec::RandomHorizontalFlip(FlipConfig::default()),
                AugSpec::RandomResizedCrop(RandomResizedCropConfig {
                    size: (96, 96),
                    ..Default::default()
                }),
                AugSpec::ColorJitter(JitterConfig::new(0.2, 0.2, 0.2, 0.0)),
            ])
        },
    )?;
    let batch = Batch::new(images.shallow_clone())
        .with_masks(masks)
        .with_boxes(
            Boxes::from_list(&boxes_per_image, BoxFormat::Xyxy)?
                .with_class_id_list(&ids_per_image)?,
        )
        .with_keypoints(Keypoints::new(points.shallow_clone()));
    let (out, params) = aug.f_forward_batch(&batch)?;
    let kept = out.boxes.as_ref().unwrap().to_list();
    let back = aug.f_inverse_batch(&out, &params, &images.size())?;

    assert_eq!(out.image.size(), [2, 3, 96, 96]);
    assert_eq!(out.masks.as_ref().unwrap().size(), [2, 96, 96]);
    assert_eq!(kept.len(), 2);
    for k in &kept {
        // Clipped to the output.
        assert!(
            k.numel() == 0
                || (k.min().double_value(&[]) >= 0.0 && k.max().double_value(&[]) <= 95.0)
        );
    }
    let err = (back.keypoints.unwrap().points - &points)
        .abs()
        .max()
        .double_value(&[]);
    assert!(err < 1e-3, "keypoints back off by {err}");
    Ok(())
}
