//! Annotations through pipelines: Kornia's documented box, keypoint and mask conventions
//! (values verified against Kornia 0.9), the options
//! Kornia lacks (clip, flag, min_visibility, min_area, exact inverse), labels through
//! mixing steps, volumes, dense warps, containers, a user's own augmentation, and typed
//! errors for records that do not fit.

mod common;
use common::max_abs_diff;
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};
use tch_dda::*;

fn f32s(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.to_kind(Kind::Float).reshape([-1])).unwrap()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

fn boxes(v: &[f32], n: i64) -> Tensor {
    Tensor::from_slice(v).view([1, n, 4])
}

fn image(shape: &[i64]) -> Tensor {
    tch::manual_seed(1);
    Tensor::rand(shape, (Kind::Float, Device::Cpu))
}

/// Params of one step inside a one-step pipeline.
fn one(key: &str, v: Tensor) -> Params {
    let mut p = Params::new();
    p.insert(format!("0.{key}"), v);
    p.insert(
        "0.batch_prob",
        Tensor::ones([1], (Kind::Float, Device::Cpu)),
    );
    p
}

use common::annotated as pipeline;

#[test]
fn boxes_follow_kornias_verified_conventions() {
    let vs = VarStore::new(Device::Cpu);
    let img = image(&[1, 3, 8, 10]); // H = 8, W = 10
    let rotate = AugSpec::RandomRotation(RandomRotationConfig {
        degrees: (-45.0, 45.0),
        p: 1.0,
        ..Default::default()
    });
    let seq = pipeline(&vs, vec![rotate], AnnotationOptions::kornia());
    let p = one("degrees", Tensor::from_slice(&[30.0f32]));
    // Kornia: a 30° rotation on W=10, H=8 maps xyxy [2,3,5,7] to
    // [2.0849, 2.8170, 6.6830, 7.7811] and xywh [2,3,4,5] to [2.0849, 2.8170, 5.5981, 5.9641].
    let b = Batch::new(img.shallow_clone()).with_boxes(Boxes::xyxy(boxes(&[2., 3., 5., 7.], 1)));
    let out = seq.f_apply_batch(&b, &p).unwrap();
    let got = f32s(&out.boxes.as_ref().unwrap().data);
    assert!(
        close(&got, &[2.0849, 2.8170, 6.6830, 7.7811], 1e-4),
        "{got:?}"
    );
    let bw = Batch::new(img.shallow_clone())
        .with_boxes(Boxes::new(boxes(&[2., 3., 4., 5.], 1), BoxFormat::Xywh));
    let got = f32s(&seq.f_apply_batch(&bw, &p).unwrap().boxes.unwrap().data);
    assert!(
        close(&got, &[2.0849, 2.8170, 5.5981, 5.9641], 1e-4),
        "{got:?}"
    );
    // Kornia's inverse encloses the enclosure: [0.2679, 1.7010, 6.7321, 8.2990].
    let back = seq.f_inverse_batch(&out, &p, &img.size()).unwrap();
    let got = f32s(&back.boxes.unwrap().data);
    assert!(
        close(&got, &[0.2679, 1.7010, 6.7321, 8.2990], 1e-4),
        "{got:?}"
    );
    // The default box mode carries the corners: the inverse is the original box.
    let exact = pipeline(
        &vs,
        vec![AugSpec::RandomRotation(RandomRotationConfig {
            degrees: (-45.0, 45.0),
            p: 1.0,
            ..Default::default()
        })],
        AnnotationOptions::default(),
    );
    let out = exact.f_apply_batch(&b, &p).unwrap();
    assert!(close(
        &f32s(&out.boxes.as_ref().unwrap().data),
        &[2.0849, 2.8170, 6.6830, 7.7811],
        1e-4
    ));
    let back = exact.f_inverse_batch(&out, &p, &img.size()).unwrap();
    assert!(close(
        &f32s(&back.boxes.unwrap().data),
        &[2., 3., 5., 7.],
        1e-5
    ));

    // Flips: x' = W-1-x and y' = H-1-y. hflip on W=10: xyxy [2,3,5,7] -> [4,3,7,7],
    // xywh [2,3,5,7] -> [3,3,5,7]; vflip on H=8: xyxy [2,3,5,7] -> [2,0,5,4].
    let flip = |h: bool| {
        let cfg = FlipConfig {
            p: 1.0,
            ..Default::default()
        };
        pipeline(
            &vs,
            vec![if h {
                AugSpec::RandomHorizontalFlip(cfg)
            } else {
                AugSpec::RandomVerticalFlip(cfg)
            }],
            AnnotationOptions::default(),
        )
    };
    let gate = one("batch_prob", Tensor::ones([1], (Kind::Float, Device::Cpu)));
    let got = f32s(
        &flip(true)
            .f_apply_batch(&b, &gate)
            .unwrap()
            .boxes
            .unwrap()
            .data,
    );
    assert_eq!(got, [4., 3., 7., 7.]);
    let bw = Batch::new(img.shallow_clone())
        .with_boxes(Boxes::new(boxes(&[2., 3., 5., 7.], 1), BoxFormat::Xywh));
    let got = f32s(
        &flip(true)
            .f_apply_batch(&bw, &gate)
            .unwrap()
            .boxes
            .unwrap()
            .data,
    );
    assert_eq!(got, [3., 3., 5., 7.]);
    let got = f32s(
        &flip(false)
            .f_apply_batch(&b, &gate)
            .unwrap()
            .boxes
            .unwrap()
            .data,
    );
    assert_eq!(got, [2., 0., 5., 4.]);
    // Integer keypoints come back as float32: [1, 2] under hflip on W = 8 is [6, 2].
    let k = Batch::new(image(&[1, 1, 5, 8])).with_keypoints(Keypoints::new(
        Tensor::from_slice(&[1i64, 2]).view([1, 1, 2]),
    ));
    let kp = flip(true)
        .f_apply_batch(&k, &gate)
        .unwrap()
        .keypoints
        .unwrap()
        .points;
    assert_eq!(kp.kind(), Kind::Float);
    assert_eq!(f32s(&kp), [6., 2.]);
}

#[test]
fn crops_move_annotations_by_their_offset_and_nothing_is_clipped_by_default() {
    let vs = VarStore::new(Device::Cpu);
    let img = image(&[1, 3, 8, 10]);
    let crop = AugSpec::RandomCrop(RandomCropConfig {
        size: (4, 4),
        ..Default::default()
    });
    let seq = pipeline(&vs, vec![crop], AnnotationOptions::default());
    // A crop (4,4) at src (6,4) on 8×10 maps [2,3,5,7] to [-4,-1,-1,3], and the keypoint
    // (-5, 20) to (-11, 16) (Kornia).
    let src = Tensor::from_slice(&[6.0f32, 4., 9., 4., 9., 7., 6., 7.]).view([1, 4, 2]);
    let p = one("src", src);
    let b = Batch::new(img.shallow_clone())
        .with_boxes(Boxes::xyxy(boxes(&[2., 3., 5., 7.], 1)))
        .with_keypoints(Keypoints::new(
            Tensor::from_slice(&[-5.0f32, 20.]).view([1, 1, 2]),
        ));
    let out = seq.f_apply_batch(&b, &p).unwrap();
    assert_eq!(f32s(&out.boxes.as_ref().unwrap().data), [-4., -1., -1., 3.]);
    assert_eq!(f32s(&out.keypoints.as_ref().unwrap().points), [-11., 16.]);
    assert!(out.boxes.as_ref().unwrap().valid.is_none());
    // Padding 2 with src (4, 0): M = [[1,0,-2],[0,1,2]].
    let padded = AugSpec::RandomCrop(RandomCropConfig {
        size: (4, 4),
        padding: Some(vec![2]),
        ..Default::default()
    });
    let step = padded.build(&vs.root()).unwrap();
    let src = Tensor::from_slice(&[4.0f32, 0., 7., 0., 7., 3., 4., 3.]).view([1, 4, 2]);
    let mut q = Params::new();
    q.insert("src", src);
    q.insert("batch_prob", Tensor::ones([1], (Kind::Float, Device::Cpu)));
    let m = step
        .f_transform_matrix(&img.size(), &q, Kind::Float, Device::Cpu)
        .unwrap();
    assert_eq!(f32s(&m.get(0).narrow(0, 0, 2)), [1., 0., -2., 0., 1., 2.]);
}

#[test]
fn options_clip_flag_and_drop_as_albumentations() {
    let vs = VarStore::new(Device::Cpu);
    let img = image(&[1, 3, 8, 10]);
    let crop = || {
        AugSpec::RandomCrop(RandomCropConfig {
            size: (5, 5),
            ..Default::default()
        })
    };
    // The crop at (4, 2): box A [2,3,5,7] -> [-2,1,1,5] (area 4·5 = 20, clipped [0,1,1,4]
    // with area 2·4 = 8: visibility 0.4); box B [0,0,1,1] -> [-4,-2,-3,-1] (outside);
    // keypoints (5,4) -> (1,2) inside, (0,0) -> (-4,-2) outside.
    let src = Tensor::from_slice(&[4.0f32, 2., 8., 2., 8., 6., 4., 6.]).view([1, 4, 2]);
    let p = one("src", src);
    let b = Batch::new(img.shallow_clone())
        .with_boxes(
            Boxes::xyxy(boxes(&[2., 3., 5., 7., 0., 0., 1., 1.], 2))
                .with_class_ids(Tensor::from_slice(&[7i64, 9]).view([1, 2])),
        )
        .with_keypoints(Keypoints::new(
            Tensor::from_slice(&[5.0f32, 4., 0., 0.]).view([1, 2, 2]),
        ));
    let run = |opts: AnnotationOptions| {
        pipeline(&vs, vec![crop()], opts)
            .f_apply_batch(&b, &p)
            .unwrap()
    };

    let out = run(AnnotationOptions {
        clip_boxes: true,
        flag_outside: true,
        ..Default::default()
    });
    let bx = out.boxes.unwrap();
    assert_eq!(f32s(&bx.data), [0., 1., 1., 4., 0., 0., 0., 0.]);
    assert_eq!(f32s(&bx.valid.unwrap()), [1., 0.]);
    assert_eq!(f32s(&bx.visibility.unwrap()), [0.4, 0.0]);
    assert_eq!(f32s(&bx.class_ids.unwrap()), [7., 9.]);
    assert_eq!(f32s(&out.keypoints.unwrap().valid.unwrap()), [1., 0.]);
    // Unclipped, the carried corners are the mapped ones.
    let out = run(AnnotationOptions::default());
    assert_eq!(
        f32s(&out.boxes.unwrap().data),
        [-2., 1., 1., 5., -4., -2., -3., -1.]
    );
    // min_visibility 0.5 drops A (0.4); 0.3 keeps it (B is not visible at all).
    let keep = |opts| f32s(&run(opts).boxes.unwrap().valid.unwrap());
    let vis = |v| AnnotationOptions {
        min_visibility: v,
        ..Default::default()
    };
    assert_eq!(keep(vis(0.5)), [0., 0.]);
    assert_eq!(keep(vis(0.3)), [1., 0.]);
    // min_area counts clipped pixels: A has 8.
    let area = |a| AnnotationOptions {
        min_area: a,
        ..Default::default()
    };
    assert_eq!(keep(area(8.0)), [1., 0.]);
    assert_eq!(keep(area(8.5)), [0., 0.]);
    // The per-image list form drops what is invalid, with the class ids.
    let out = run(vis(0.3));
    let bx = out.boxes.unwrap();
    let list = bx.to_list();
    assert_eq!(list.len(), 1);
    assert_eq!(f32s(&list[0]), [-2., 1., 1., 5.]);
    assert_eq!(f32s(&bx.class_id_list()[0]), [7.]);
}

#[test]
fn boxes_go_in_and_out_as_per_image_lists() {
    let list = [
        Tensor::from_slice(&[2.0f32, 3., 5., 7., 0., 0., 4., 4.]).view([2, 4]),
        Tensor::zeros([0, 4], (Kind::Float, Device::Cpu)),
        Tensor::from_slice(&[1.0f32, 1., 3., 3.]).view([1, 4]),
    ];
    let b = Boxes::from_list(&list, BoxFormat::Xyxy)
        .unwrap()
        .with_class_id_list(&[
            Tensor::from_slice(&[1i64, 2]),
            Tensor::zeros([0], (Kind::Int64, Device::Cpu)),
            Tensor::from_slice(&[3i64]),
        ])
        .unwrap();
    assert_eq!(b.data.size(), [3, 2, 4]);
    assert_eq!(f32s(b.valid.as_ref().unwrap()), [1., 1., 0., 0., 1., 0.]);
    let vs = VarStore::new(Device::Cpu);
    let seq = pipeline(
        &vs,
        vec![AugSpec::RandomHorizontalFlip(FlipConfig {
            p: 1.0,
            ..Default::default()
        })],
        AnnotationOptions::default(),
    );
    let (out, _) = seq
        .f_forward_batch(&Batch::new(image(&[3, 1, 6, 10])).with_boxes(b))
        .unwrap();
    let bx = out.boxes.unwrap();
    let back = bx.to_list();
    assert_eq!(back.len(), 3);
    assert_eq!(f32s(&back[0]), [4., 3., 7., 7., 5., 0., 9., 4.]);
    assert_eq!(back[1].size(), [0, 4]);
    assert_eq!(f32s(&back[2]), [6., 1., 8., 3.]);
    assert_eq!(f32s(&bx.class_id_list()[2]), [3.]);
}

/// With the image equal to the mask (as floats), nearest resampling moves both alike.
#[test]
fn masks_move_with_the_image_keep_their_kind_and_intensity_steps_leave_them() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    tch::manual_seed(3);
    let labels = Tensor::randint(5, [4, 12, 14], (Kind::Int64, Device::Cpu));
    let img = labels.unsqueeze(1).to_kind(Kind::Float);
    let nearest = |spec: AugSpec| spec;
    let steps = vec![
        nearest(AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-30.0, 30.0),
            translate: Some((0.1, 0.1)),
            resample: Resample::Nearest,
            p: 1.0,
            ..Default::default()
        })),
        AugSpec::RandomHorizontalFlip(FlipConfig::default()),
        AugSpec::RandomCrop(RandomCropConfig {
            size: (9, 10),
            padding: Some(vec![1]),
            ..Default::default()
        }),
        AugSpec::RandomResizedCrop(RandomResizedCropConfig {
            size: (11, 12),
            resample: Resample::Nearest,
            ..Default::default()
        }),
        AugSpec::Resize(ResizeConfig {
            size: ResizeTo::Size(7, 9),
            resample: Resample::Nearest,
            ..Default::default()
        }),
        AugSpec::PadTo(PadToConfig {
            size: (9, 11),
            ..Default::default()
        }),
        AugSpec::RandomCutMix(CutMixConfig::default()),
    ];
    let seq = pipeline(&vs, steps, AnnotationOptions::default());
    let (out, _) = seq
        .f_forward_batch(&Batch::new(img.shallow_clone()).with_masks(labels.shallow_clone()))
        .unwrap();
    let mask = out.masks.unwrap();
    assert_eq!(mask.kind(), Kind::Int64);
    assert_eq!(mask.size(), [4, 9, 11]);
    assert!(mask.to_kind(Kind::Float).equal(&out.image.squeeze_dim(1)));
    // Colour steps do not touch masks; RandomErasing writes 0 into them (as Kornia).
    let erase = pipeline(
        &vs,
        vec![
            AugSpec::ColorJitter(JitterConfig {
                p: 1.0,
                ..JitterConfig::new(0.4, 0.4, 0.0, 0.0)
            }),
            AugSpec::RandomErasing(ErasingConfig {
                p: 1.0,
                value: 0.7,
                ..Default::default()
            }),
        ],
        AnnotationOptions::default(),
    );
    let rgb = image(&[4, 3, 12, 14]);
    let m = labels.unsqueeze(1) + 1;
    let (out, _) = erase
        .f_forward_batch(&Batch::new(rgb).with_masks(m.shallow_clone()))
        .unwrap();
    let om = out.masks.unwrap();
    let erased = out.image.eq(0.7).all_dim(1, true);
    let kept = erased.logical_not();
    assert!(erased.any().int64_value(&[]) == 1);
    assert!(
        om.masked_select(&erased).eq(0).all().int64_value(&[]) == 1,
        "erased pixels must be 0 in the mask"
    );
    assert!(
        om.masked_select(&kept).equal(&m.masked_select(&kept)),
        "other pixels keep their labels"
    );
}

#[test]
fn labels_are_mixed_inside_a_pipeline() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let seq = pipeline(
        &vs,
        vec![
            AugSpec::RandomHorizontalFlip(FlipConfig::default()),
            AugSpec::RandomMixUp(MixUpConfig::default()),
        ],
        AnnotationOptions::default(),
    );
    let x = image(&[6, 3, 5, 7]);
    let y = Tensor::from_slice(&[0i64, 1, 2, 3, 4, 5]);
    tch::manual_seed(11);
    let (out, p) = seq
        .f_forward_batch(&Batch::new(x.shallow_clone()).with_labels(y.shallow_clone()))
        .unwrap();
    let mixed = out.mixed.unwrap();
    // The same as the mixing step on its own, given the flipped images and its params.
    let flipped = seq.steps()[0].f_apply(&x, &p.sub("0")).unwrap();
    let mix = RandomMixUp::new(vs.root(), MixUpConfig::default()).unwrap();
    let (img, lab) = mix.f_apply_with_labels(&flipped, &y, &p.sub("1")).unwrap();
    assert!(out.image.equal(&img));
    assert!(mixed.labels.equal(&lab));
    assert_eq!(mixed.weight, LambdaWeight::Permuted);
    assert!(out.labels.unwrap().equal(&y));
    // A loss straight from the record.
    let logits = Tensor::rand([6, 6], (Kind::Float, Device::Cpu));
    let loss = mixed.cross_entropy(&logits).unwrap();
    assert!(loss.double_value(&[]).is_finite());
    // Boxes cannot go through a mixing step; MixUp does not blend masks.
    let with_boxes = Batch::new(x.shallow_clone())
        .with_labels(y.shallow_clone())
        .with_boxes(Boxes::xyxy(Tensor::zeros(
            [6, 1, 4],
            (Kind::Float, Device::Cpu),
        )));
    assert_eq!(
        seq.f_forward_batch(&with_boxes).unwrap_err().to_string(),
        "RandomMixUp: boxes and keypoints cannot go through a mixing step (each output image holds parts of two)"
    );
    let with_mask = Batch::new(x.shallow_clone())
        .with_masks(Tensor::zeros([6, 5, 7], (Kind::Int64, Device::Cpu)));
    assert_eq!(
        seq.f_forward_batch(&with_mask).unwrap_err().to_string(),
        "RandomMixUp: mask cannot go through MixUp: it blends whole images, and a blended mask has no labels (CutMix pastes masks)"
    );
}

#[test]
fn volumes_carry_masks_boxes_and_keypoints() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let seq = pipeline(
        &vs,
        vec![
            AugSpec::RandomAffine3D(Affine3DConfig {
                degrees: [(-20.0, 20.0); 3],
                align_corners: true,
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::RandomDepthicalFlip3D(FlipConfig::default()),
            AugSpec::RandomCrop3D(RandomCrop3DConfig {
                size: [5, 6, 7],
                ..Default::default()
            }),
        ],
        AnnotationOptions::default(),
    );
    tch::manual_seed(6);
    let vol = Tensor::rand([2, 1, 7, 8, 9], (Kind::Double, Device::Cpu));
    let labels = Tensor::randint(3, [2, 7, 8, 9], (Kind::Int64, Device::Cpu));
    let bx = Tensor::from_slice(&[1.0f64, 2., 1., 5., 6., 4.])
        .view([1, 1, 6])
        .repeat([2, 1, 1]);
    let kp = Tensor::from_slice(&[3.0f64, 4., 2., 4.5, 2.5, 3.0])
        .view([1, 2, 3])
        .repeat([2, 1, 1]);
    let b = Batch::new(vol.shallow_clone())
        .with_masks(labels.shallow_clone())
        .with_boxes(Boxes::xyxy(bx.shallow_clone()))
        .with_keypoints(Keypoints::new(kp.shallow_clone()));
    let (out, p) = seq.f_forward_batch(&b).unwrap();
    assert_eq!(out.masks.as_ref().unwrap().size(), [2, 5, 6, 7]);
    assert_eq!(out.boxes.as_ref().unwrap().data.size(), [2, 1, 6]);
    // Keypoints follow the composed 4×4 matrix; the box encloses the keypoints inside it.
    let t = seq
        .f_transform(&vol.size(), &p, Kind::Double, Device::Cpu)
        .unwrap();
    let moved = out.keypoints.as_ref().unwrap().points.shallow_clone();
    assert!(max_abs_diff(&moved, &t.map_points(&kp)) < 1e-9);
    let ob = &out.boxes.as_ref().unwrap().data;
    let lo = ob.narrow(-1, 0, 3);
    let hi = ob.narrow(-1, 3, 3);
    assert!(
        moved
            .ge_tensor(&lo)
            .logical_and(&moved.le_tensor(&hi))
            .all()
            .int64_value(&[])
            == 1
    );
    let back = seq.f_inverse_batch(&out, &p, &vol.size()).unwrap();
    assert!(max_abs_diff(&back.keypoints.unwrap().points, &kp) < 1e-9);
    assert!(max_abs_diff(&back.boxes.unwrap().data, &bx) < 1e-9);
}

#[test]
fn dense_warps_move_keypoints_through_their_field() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let seq = pipeline(
        &vs,
        vec![AugSpec::RandomThinPlateSpline(ThinPlateSplineConfig {
            p: 1.0,
            ..Default::default()
        })],
        AnnotationOptions::default(),
    );
    let x = image(&[2, 3, 20, 24]).to_kind(Kind::Double);
    let kp = Tensor::from_slice(&[6.0f64, 7., 12.5, 9.25, 17., 13.])
        .view([1, 3, 2])
        .repeat([2, 1, 1]);
    tch::manual_seed(8);
    let (out, p) = seq
        .f_forward_batch(
            &Batch::new(x.shallow_clone()).with_keypoints(Keypoints::new(kp.shallow_clone())),
        )
        .unwrap();
    let moved = out.keypoints.as_ref().unwrap().points.shallow_clone();
    assert!(
        max_abs_diff(&moved, &kp) > 0.1,
        "the warp must move the points"
    );
    let Geometry::Dense(f) = seq
        .f_geometry(&x.size(), &p, Kind::Double, Device::Cpu)
        .unwrap()
    else {
        panic!("a thin-plate spline is a dense warp");
    };
    // Each moved point samples its original position.
    assert!(max_abs_diff(&f.sample_points(&moved), &kp) < 1e-6);
    let back = seq.f_inverse_batch(&out, &p, &x.size()).unwrap();
    assert!(max_abs_diff(&back.keypoints.unwrap().points, &kp) < 1e-6);
}

#[test]
fn containers_record_their_draws_and_replay_them() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let inner = SequentialConfig::one_of(
        vec![
            AugSpec::RandomVerticalFlip(FlipConfig {
                p: 1.0,
                ..Default::default()
            }),
            AugSpec::RandomRotation(RandomRotationConfig {
                degrees: (-40.0, 40.0),
                p: 1.0,
                ..Default::default()
            }),
        ],
        Some(vec![1.0, 3.0]),
    );
    let outer = SequentialConfig {
        random_apply: RandomApply::Between(1, 3),
        same_on_batch: Some(true),
        ..SequentialConfig::new(vec![
            AugSpec::RandomAffine(RandomAffineConfig {
                degrees: (-20.0, 20.0),
                p: 0.5,
                ..Default::default()
            }),
            AugSpec::Sequential(inner),
            AugSpec::RandomHorizontalFlip(FlipConfig::default()),
        ])
    };
    let seq = Sequential::new(&(vs.root() / "c"), outer).unwrap();
    // same_on_batch reached every step, nested ones included.
    let json = seq.to_json().unwrap();
    assert_eq!(json.matches("\"same_on_batch\": true").count(), 6, "{json}");
    let again = Sequential::from_json(&(vs.root() / "c2"), &json).unwrap();
    assert_eq!(again.to_json().unwrap(), json);
    let x = image(&[4, 3, 9, 11]);
    let kp = Tensor::from_slice(&[2.0f32, 3., 7., 5.])
        .view([1, 2, 2])
        .repeat([4, 1, 1]);
    let mut counts = std::collections::BTreeMap::new();
    for s in 0..40 {
        tch::manual_seed(s);
        let (out, p) = seq
            .f_forward_batch(
                &Batch::new(x.shallow_clone()).with_keypoints(Keypoints::new(kp.shallow_clone())),
            )
            .unwrap();
        let sel = Vec::<i64>::try_from(p.get("selection").unwrap()).unwrap();
        assert!((1..=3).contains(&sel.len()));
        *counts.entry(sel.len()).or_insert(0) += 1;
        // Replaying the params reproduces the output bit for bit, annotations included.
        let replay = seq
            .f_apply_batch(
                &Batch::new(x.shallow_clone()).with_keypoints(Keypoints::new(kp.shallow_clone())),
                &p,
            )
            .unwrap();
        assert!(replay.image.equal(&out.image));
        assert!(replay
            .keypoints
            .unwrap()
            .points
            .equal(&out.keypoints.as_ref().unwrap().points));
        // same_on_batch: every sample got the same transform.
        let pts = out.keypoints.unwrap().points;
        assert!(max_abs_diff(&pts, &pts.get(0).unsqueeze(0).expand_as(&pts)) < 1e-5);
    }
    assert!(counts.len() >= 2, "the count is drawn: {counts:?}");
    // A selection that names no step is refused.
    let mut p = Params::new();
    p.insert("selection", Tensor::from_slice(&[7i64]));
    assert_eq!(
        seq.f_apply(&x, &p).unwrap_err().to_string(),
        "Sequential: parameter `selection` holds step 7; the container has 3 steps"
    );
}

/// A user's augmentation: shifts every image right by a drawn whole number of pixels.
#[derive(Debug)]
struct ShiftRight {
    max: i64,
}

impl Augmentation for ShiftRight {
    fn name(&self) -> &'static str {
        "ShiftRight"
    }

    fn spec(&self) -> AugSpec {
        AugSpec::Custom(CustomSpec {
            name: "ShiftRight".into(),
            config: serde_json::json!({ "max": self.max }),
        })
    }

    fn sample(&self, shape: &[i64], _device: Device) -> tch_dda::Result<Params> {
        let mut p = Params::new();
        p.insert(
            "shift",
            Tensor::randint(self.max + 1, [shape[0]], (Kind::Int64, Device::Cpu)),
        );
        Ok(p)
    }

    fn apply_transform(&self, input: &Tensor, params: &Params) -> tch_dda::Result<Tensor> {
        let b = input.size()[0];
        let shifts = Vec::<i64>::try_from(params.require("ShiftRight", "shift")?).unwrap();
        let rows: Vec<Tensor> = (0..b)
            .map(|i| input.get(i).roll([shifts[i as usize]], [2]))
            .collect();
        Ok(Tensor::stack(&rows, 0))
    }

    fn geometry_ungated(
        &self,
        shape: &[i64],
        params: &Params,
        kind: Kind,
        device: Device,
    ) -> tch_dda::Result<Geometry> {
        let s = params
            .require("ShiftRight", "shift")?
            .to_kind(kind)
            .to_device(device);
        let t = Tensor::stack(&[s.shallow_clone(), s.zeros_like()], 1);
        assert_eq!(t.size()[0], shape[0]);
        Ok(Geometry::Matrix(Transform::translation(&t)))
    }
}

#[test]
fn a_users_augmentation_joins_a_pipeline_and_its_json() {
    let _serial = common::serial();
    register_augmentation("ShiftRight", |_path, cfg| {
        Ok(Box::new(ShiftRight {
            max: cfg["max"].as_i64().unwrap_or(0),
        }))
    })
    .unwrap();
    let vs = VarStore::new(Device::Cpu);
    let flip = AugSpec::RandomVerticalFlip(FlipConfig::default())
        .build(&(vs.root() / "f"))
        .unwrap();
    let seq = Sequential::from_steps(
        vec![Box::new(ShiftRight { max: 3 }), flip],
        SequentialConfig::default(),
    )
    .unwrap();
    let x = image(&[3, 1, 6, 9]);
    let kp = Tensor::from_slice(&[2.0f32, 1.])
        .view([1, 1, 2])
        .repeat([3, 1, 1]);
    tch::manual_seed(2);
    let (out, p) = seq
        .f_forward_batch(
            &Batch::new(x.shallow_clone()).with_keypoints(Keypoints::new(kp.shallow_clone())),
        )
        .unwrap();
    // The keypoint moved with the user's matrix, then the flip.
    let shifts = Vec::<i64>::try_from(p.get("0.shift").unwrap()).unwrap();
    let flipped = Vec::<f32>::try_from(p.get("1.batch_prob").unwrap()).unwrap();
    let pts = f32s(&out.keypoints.unwrap().points);
    for i in 0..3 {
        let y = if flipped[i] > 0.5 { 4.0 } else { 1.0 };
        assert_eq!(pts[2 * i..2 * i + 2], [2.0 + shifts[i] as f32, y]);
    }
    let json = seq.to_json().unwrap();
    assert!(json.contains("\"Custom\""), "{json}");
    let rebuilt = Sequential::from_json(&(vs.root() / "r"), &json).unwrap();
    assert!(rebuilt.f_apply(&x, &p).unwrap().equal(&out.image));
    assert_eq!(
        register_augmentation("RandomAffine", |_, _| unreachable!()).unwrap_err().to_string(),
        "register_augmentation: name = RandomAffine is invalid; allowed: a name that no built-in operator has"
    );
    let unknown = r#"[{"Custom": {"name": "NotRegistered", "config": {}}}]"#;
    assert_eq!(
        Sequential::from_json(&(vs.root() / "u"), unknown).unwrap_err().to_string(),
        "AugSpec: Custom = NotRegistered is invalid; allowed: a name registered with register_augmentation before building"
    );
}

#[test]
fn records_that_do_not_fit_get_typed_errors_and_stay_untouched() {
    let vs = VarStore::new(Device::Cpu);
    let seq = pipeline(
        &vs,
        vec![AugSpec::RandomHorizontalFlip(FlipConfig::default())],
        AnnotationOptions::default(),
    );
    let x = image(&[2, 3, 6, 8]);
    let msg = |b: Batch| seq.f_forward_batch(&b).unwrap_err().to_string();
    let bad_box = Tensor::from_slice(&[1.0f32, 1., 4., 4., 5., 2., 3., 6.])
        .view([1, 2, 4])
        .repeat([2, 1, 1]);
    let copy = bad_box.copy();
    assert_eq!(
        msg(Batch::new(x.shallow_clone()).with_boxes(Boxes::xyxy(bad_box.shallow_clone()))),
        "Sequential: boxes box 1 of sample 0 is [5.0, 2.0, 3.0, 6.0] (as xyxy); expected finite [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1"
    );
    assert!(bad_box.equal(&copy));
    // An invalid (padding) row is not checked.
    let valid = Tensor::from_slice(&[true, false])
        .view([1, 2])
        .repeat([2, 1]);
    assert!(seq
        .f_forward_batch(
            &Batch::new(x.shallow_clone()).with_boxes(Boxes::xyxy(bad_box).with_valid(valid))
        )
        .is_ok());
    assert_eq!(
        msg(Batch::new(x.shallow_clone()).with_boxes(Boxes::new(
            Tensor::from_slice(&[1.0f32, 1., 0., 3.]).view([1, 1, 4]).repeat([2, 1, 1]),
            BoxFormat::Xywh
        ))),
        "Sequential: boxes box 0 of sample 0 is [1.0, 1.0, 0.0, 3.0] (as xyxy); expected finite boxes with sizes > 0"
    );
    assert_eq!(
        msg(Batch::new(x.shallow_clone()).with_boxes(Boxes::xyxy(Tensor::zeros([3, 1, 4], (Kind::Float, Device::Cpu))))),
        "Sequential: boxes have shape [3, 1, 4]; expected (B, N, 4) with B = 2 (or (N, 4) for an unbatched image)"
    );
    assert_eq!(
        msg(Batch::new(x.shallow_clone()).with_keypoints(Keypoints::new(Tensor::zeros([2, 4, 3], (Kind::Float, Device::Cpu))))),
        "Sequential: keypoints have shape [2, 4, 3]; expected (B, N, 2) with B = 2 (or (N, 2) for an unbatched image)"
    );
    assert_eq!(
        msg(Batch::new(x.shallow_clone()).with_masks(Tensor::zeros([2, 6, 7], (Kind::Int64, Device::Cpu)))),
        "Sequential: mask has shape [2, 6, 7]; expected (B,K,H,W) or (B,H,W) with B, H, W = 2, [6, 8] (the image is [2, 3, 6, 8])"
    );
    assert_eq!(
        msg(Batch::new(x.shallow_clone()).with_masks(Tensor::zeros([3, 1, 6, 8], (Kind::Int64, Device::Cpu)))),
        "Sequential: mask has shape [3, 1, 6, 8]; expected (B,K,H,W) or (B,H,W) with B, H, W = 2, [6, 8] (the image is [2, 3, 6, 8])"
    );
    assert_eq!(
        msg(Batch::new(x.shallow_clone())
            .with_labels(Tensor::zeros([2], (Kind::Float, Device::Cpu)))),
        "Sequential: labels have shape [2] and kind Float; expected (2,) integer class ids"
    );
    assert_eq!(
        msg(Batch::new(x.shallow_clone()).with_boxes(
            Boxes::xyxy(Tensor::zeros([2, 1, 4], (Kind::Float, Device::Cpu)))
                .with_class_ids(Tensor::zeros([2, 2], (Kind::Int64, Device::Cpu)))
        )),
        "Sequential: boxes.class_ids has shape [2, 2]; expected (2, 1)"
    );
}

#[test]
fn bad_annotation_options_are_refused() {
    let vs = VarStore::new(Device::Cpu);
    let cfg = |a: AnnotationOptions| SequentialConfig {
        annotations: a,
        ..SequentialConfig::new(vec![])
    };
    let err = |a| Sequential::new(vs.root(), cfg(a)).unwrap_err().to_string();
    assert_eq!(
        err(AnnotationOptions {
            min_visibility: 1.5,
            ..Default::default()
        }),
        "Sequential: min_visibility = 1.5 is invalid; allowed: a fraction in [0, 1]"
    );
    assert_eq!(
        err(AnnotationOptions {
            min_area: -1.0,
            ..Default::default()
        }),
        "Sequential: min_area = -1 is invalid; allowed: a finite area >= 0 (pixels)"
    );
    assert_eq!(
        Sequential::new(
            vs.root(),
            SequentialConfig {
                random_apply: RandomApply::Between(3, 1),
                ..SequentialConfig::new(vec![])
            }
        )
        .unwrap_err()
        .to_string(),
        "Sequential: random_apply = Between(3, 1) is invalid; allowed: 0 <= lo <= hi <= 1024"
    );
}

#[test]
fn a_singular_step_has_no_inverse() {
    let vs = VarStore::new(Device::Cpu);
    let seq = pipeline(
        &vs,
        vec![
            AugSpec::RandomHorizontalFlip(FlipConfig::default()),
            AugSpec::RandomAffine(RandomAffineConfig {
                scale: Some((0.5, 1.5)),
                p: 1.0,
                ..Default::default()
            }),
        ],
        AnnotationOptions::default(),
    );
    let x = image(&[2, 1, 6, 8]);
    let b = Batch::new(x.shallow_clone()).with_keypoints(Keypoints::new(Tensor::ones(
        [2, 1, 2],
        (Kind::Float, Device::Cpu),
    )));
    tch::manual_seed(0);
    let (out, mut p) = seq.f_forward_batch(&b).unwrap();
    // Replayed params with a zero scale for the second sample: its matrix is singular.
    p.insert(
        "1.scale",
        Tensor::from_slice(&[1.0f32, 1.0, 0.0, 0.0]).view([2, 2]),
    );
    let before = out.image.copy();
    assert_eq!(
        seq.f_inverse_batch(&out, &p, &x.size()).unwrap_err().to_string(),
        "RandomAffine is not invertible: the matrix of sample 1 is singular (or not finite) (its params give no inverse)"
    );
    assert!(out.image.equal(&before));
}

#[test]
fn pipeline_json_reads_both_forms_and_names_what_is_wrong() {
    let vs = VarStore::new(Device::Cpu);
    // The list form (every option at its default) still loads, and is still written.
    let list = r#"[{"RandomHorizontalFlip": {"p": 0.5, "same_on_batch": false}}]"#;
    let seq = Sequential::from_json(&(vs.root() / "a"), list).unwrap();
    assert!(seq.to_json().unwrap().trim_start().starts_with('['));
    // Options make it an object.
    let obj = r#"{"steps": [{"RandomHorizontalFlip": {"p": 0.5}}], "fuse_geometry": true,
                 "annotations": {"clip_boxes": true}}"#;
    let seq = Sequential::from_json(&(vs.root() / "b"), obj).unwrap();
    let cfg = seq.config();
    assert!(cfg.fuse_geometry && cfg.annotations.clip_boxes);
    let again = Sequential::from_json(&(vs.root() / "c"), &seq.to_json().unwrap()).unwrap();
    assert_eq!(again.config(), cfg);
    let err = |j: &str| {
        Sequential::from_json(&(vs.root() / "d"), j)
            .unwrap_err()
            .to_string()
    };
    assert!(
        err(r#"{"steps": [], "fuse": true}"#).contains("unknown field `fuse`"),
        "{}",
        err(r#"{"steps": [], "fuse": true}"#)
    );
    assert!(err(r#"[{"RandomFlip": {}}]"#).contains("unknown variant `RandomFlip`"));
}

#[test]
fn an_unbatched_record_comes_back_unbatched() {
    let vs = VarStore::new(Device::Cpu);
    let seq = pipeline(
        &vs,
        vec![AugSpec::RandomVerticalFlip(FlipConfig {
            p: 1.0,
            ..Default::default()
        })],
        AnnotationOptions {
            flag_outside: true,
            ..Default::default()
        },
    );
    let img = image(&[3, 6, 8]);
    let b = Batch::new(img.shallow_clone())
        .with_masks(Tensor::zeros([6, 8], (Kind::Uint8, Device::Cpu)))
        .with_boxes(
            Boxes::xyxy(Tensor::from_slice(&[1.0f32, 1., 3., 2.]).view([1, 4]))
                .with_valid(Tensor::from_slice(&[true])),
        )
        .with_keypoints(Keypoints::new(
            Tensor::from_slice(&[2.0f32, 0.]).view([1, 2]),
        ));
    let (out, p) = seq.f_forward_batch(&b).unwrap();
    assert_eq!(out.image.size(), [3, 6, 8]);
    assert_eq!(out.masks.as_ref().unwrap().size(), [6, 8]);
    assert_eq!(out.masks.as_ref().unwrap().kind(), Kind::Uint8);
    let bx = out.boxes.as_ref().unwrap();
    assert_eq!(f32s(&bx.data), [1., 3., 3., 4.]);
    assert_eq!(bx.valid.as_ref().unwrap().size(), [1]);
    let kp = out.keypoints.as_ref().unwrap();
    assert_eq!(f32s(&kp.points), [2., 5.]);
    assert_eq!(kp.valid.as_ref().unwrap().size(), [1]);
    let back = seq.f_inverse_batch(&out, &p, &img.size()).unwrap();
    assert!(back.image.equal(&img));
    assert_eq!(f32s(&back.boxes.unwrap().data), [1., 1., 3., 2.]);
}

/// A container's `apply_mask` on its own (as an outer container would call a step's):
/// the masks of the record path, whatever channels the image steps need.
#[test]
fn a_containers_masks_follow_its_steps() {
    let _serial = common::serial();
    let vs = VarStore::new(Device::Cpu);
    let seq = pipeline(
        &vs,
        vec![
            AugSpec::RandomAffine(RandomAffineConfig {
                degrees: (-30.0, 30.0),
                p: 0.5,
                ..Default::default()
            }),
            AugSpec::Normalize(NormalizeConfig::imagenet()),
            AugSpec::CenterCrop(CenterCropConfig {
                size: (6, 7),
                ..Default::default()
            }),
        ],
        AnnotationOptions::default(),
    );
    let x = image(&[4, 3, 9, 10]);
    let m = Tensor::randint(4, [4, 1, 9, 10], (Kind::Int64, Device::Cpu));
    tch::manual_seed(3);
    let (out, p) = seq
        .f_forward_batch(&Batch::new(x.shallow_clone()).with_masks(m.shallow_clone()))
        .unwrap();
    let how = AnnotationOptions::default().mask_sampling();
    let direct = seq.apply_mask(&m.to_kind(Kind::Float), &p, &how).unwrap();
    assert!(direct
        .to_kind(Kind::Int64)
        .equal(out.masks.as_ref().unwrap()));
    let back = seq.inverse_mask(&direct, &p, &x.size(), &how).unwrap();
    assert_eq!(back.size(), [4, 1, 9, 10]);
}

#[test]
fn a_mask_without_channels_is_refused() {
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(
        vs.root(),
        [AugSpec::Resize(ResizeConfig {
            size: ResizeTo::Side(12, Side::Short),
            ..Default::default()
        })],
    )
    .unwrap();
    let image = Tensor::rand([2, 3, 24, 8], (Kind::Float, Device::Cpu));
    let batch =
        Batch::new(image).with_masks(Tensor::zeros([2, 0, 24, 8], (Kind::Float, Device::Cpu)));
    let e = seq.f_forward_batch(&batch).unwrap_err();
    assert!(matches!(e, Error::Annotation { what: "mask", .. }), "{e}");
    assert!(e.to_string().contains("K = 0"), "{e}");
}

/// What the README promises of kinds: masks, class ids and labels keep theirs; boxes and
/// keypoints come back float64 when given float64 and float32 otherwise (integers
/// included), through the forward pass and the inverse alike.
#[test]
fn annotations_come_back_in_the_documented_kinds() {
    let vs = VarStore::new(Device::Cpu);
    let seq = Sequential::new(
        vs.root(),
        vec![AugSpec::RandomAffine(RandomAffineConfig {
            degrees: (-10.0, 10.0),
            p: 1.0,
            ..Default::default()
        })],
    )
    .unwrap();
    for kind in [Kind::Int64, Kind::Int, Kind::Float, Kind::Double] {
        let coords = if kind == Kind::Double {
            Kind::Double
        } else {
            Kind::Float
        };
        let boxes = Tensor::from_slice(&[1i64, 2, 5, 6])
            .view([1, 1, 4])
            .to_kind(kind);
        let points = Tensor::from_slice(&[3i64, 4]).view([1, 1, 2]).to_kind(kind);
        let batch = Batch::new(Tensor::rand([1, 3, 8, 8], (Kind::Float, Device::Cpu)))
            .with_boxes(Boxes::xyxy(boxes).with_class_ids(Tensor::from_slice(&[7i64]).view([1, 1])))
            .with_keypoints(Keypoints::new(points))
            .with_masks(Tensor::zeros([1, 8, 8], (Kind::Uint8, Device::Cpu)))
            .with_labels(Tensor::from_slice(&[2i64]));
        let (out, params) = seq.f_forward_batch(&batch).unwrap();
        let inv = seq.f_inverse_batch(&out, &params, &[1, 3, 8, 8]).unwrap();
        for b in [&out, &inv] {
            let boxes = b.boxes.as_ref().unwrap();
            assert_eq!(boxes.data.kind(), coords, "{kind:?} boxes");
            assert_eq!(
                b.keypoints.as_ref().unwrap().points.kind(),
                coords,
                "{kind:?}"
            );
            assert_eq!(b.masks.as_ref().unwrap().kind(), Kind::Uint8);
            assert_eq!(b.labels.as_ref().unwrap().kind(), Kind::Int64);
            assert_eq!(boxes.class_ids.as_ref().unwrap().kind(), Kind::Int64);
        }
    }
}

/// `Boxes::f_clamp` and `Boxes::f_sanitize` equal torchvision 0.28's ClampBoundingBoxes and
/// SanitizeBoundingBoxes on 200 random boxes (tests/fixtures/torchvision/boxes.json, written
/// by scripts/gen_torchvision_box_fixtures.py): corners past every side, zero widths,
/// inverted boxes; the boxes as given and after clamping, four (min_size, min_area).
#[test]
fn clamping_and_sanitising_boxes_equal_torchvisions() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torchvision/boxes.json"
    );
    let fx: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let floats = |k: &str| -> Vec<f32> {
        fx[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect()
    };
    let (h, w) = (
        fx["height"].as_i64().unwrap(),
        fx["width"].as_i64().unwrap(),
    );
    let raw = Tensor::from_slice(&floats("boxes")).view([1, -1, 4]);
    let n = raw.size()[1];
    let ids = Tensor::arange(n, (Kind::Int64, Device::Cpu)).view([1, n]);
    let boxes = Boxes::xyxy(raw).with_class_ids(ids);
    let clamped = boxes.f_clamp((h, w)).unwrap();
    let theirs = Tensor::from_slice(&floats("clamped")).view([1, -1, 4]);
    assert_eq!(max_abs_diff(&clamped.data, &theirs), 0.0);
    for case in fx["cases"].as_array().unwrap() {
        let input = if case["input"] == "raw" {
            &boxes
        } else {
            &clamped
        };
        let (min_size, min_area) = (
            case["min_size"].as_f64().unwrap(),
            case["min_area"].as_f64().unwrap(),
        );
        let kept = input.f_sanitize((h, w), min_size, min_area).unwrap();
        let ours: Vec<i64> = Vec::try_from(&kept.class_id_list()[0]).unwrap();
        let theirs: Vec<i64> = case["kept"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        assert_eq!(ours, theirs, "{case}");
        assert_eq!(kept.to_list()[0].size()[0], theirs.len() as i64);
    }
    // Already invalid boxes stay invalid; a format round trip keeps the format.
    let half = Tensor::arange(n, (Kind::Int64, Device::Cpu))
        .view([1, n])
        .remainder(2)
        .eq(0);
    let some = clamped
        .clone()
        .with_valid(half)
        .f_sanitize((h, w), 1.0, 1.0)
        .unwrap();
    let odd_kept = Vec::<i64>::try_from(&some.class_id_list()[0]).unwrap();
    assert!(!odd_kept.is_empty() && odd_kept.iter().all(|i| i % 2 == 0));
    let xywh = Boxes::new(
        Tensor::from_slice(&[-5.0f32, 10., 30., 60.]).view([1, 1, 4]),
        BoxFormat::Xywh,
    );
    let c = xywh.f_clamp((50, 70)).unwrap();
    assert_eq!(c.format, BoxFormat::Xywh);
    assert_eq!(
        max_abs_diff(
            &c.to_xyxy(),
            &Tensor::from_slice(&[0.0f32, 10., 24., 50.]).view([1, 1, 4])
        ),
        0.0
    );
    // Typed errors.
    let volume = Boxes::new(
        Tensor::zeros([1, 2, 6], (Kind::Float, Device::Cpu)),
        BoxFormat::Xyxy,
    );
    assert!(matches!(
        volume.f_clamp((4, 4)),
        Err(Error::Annotation { .. })
    ));
    assert!(matches!(
        boxes.f_sanitize((h, w), -1.0, 1.0),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        boxes.f_sanitize((h, w), 1.0, f64::NAN),
        Err(Error::Config { .. })
    ));
    assert!(matches!(
        boxes.f_clamp((-1, 4)),
        Err(Error::Annotation { .. })
    ));
    let flags = Boxes::xyxy(Tensor::ones([1, 2, 4], (Kind::Bool, Device::Cpu)));
    assert!(matches!(
        flags.f_clamp((4, 4)),
        Err(Error::Annotation { .. })
    ));
    assert!(matches!(
        flags.f_sanitize((4, 4), 1.0, 1.0),
        Err(Error::Annotation { .. })
    ));
    // Integer boxes keep their kind, as torchvision's.
    let ints = Boxes::xyxy(Tensor::from_slice(&[-3i64, 2, 80, 9]).view([1, 1, 4]));
    let c = ints.f_clamp((50, 70)).unwrap().data;
    assert_eq!(c.kind(), Kind::Int64);
    assert_eq!(Vec::<i64>::try_from(c.view([-1])).unwrap(), [0, 2, 70, 9]);
}
