//! Annotations through a pipeline, and back: the sample photos with hand-placed boxes,
//! keypoints and a mask (the boxes' interiors), augmented by RandomAffine +
//! RandomHorizontalFlip + RandomResizedCrop + ColorJitter, then mapped back with the
//! pipeline's inverse.
//!
//! Writes a PNG grid: the originals with their annotations (top row), three augmented draws
//! with the annotations the pipeline moved (boxes clipped to the image, those that left it
//! not drawn), the last draw again with the boxes as oriented boxes (torchvision's XYWHR,
//! which turn with the image), and the last draw mapped back (bottom row; the image regions
//! the crop dropped are black). Prints how far the mapped-back boxes and
//! keypoints land from the originals, with this crate's carried corners and with Kornia's
//! enclose-every-step boxes, and the oriented boxes' round trip.
//!
//! `cargo run --release --example annotations -- [output.png]`

mod common;
use anyhow::Result;
use tch::{nn, Device, Kind, Tensor};
use tch_dda::*;

/// Hand-placed boxes `[x1, y1, x2, y2]` and keypoints `(x, y)` on the 224×224 photos
/// (astronaut: face, badge, shuttle; eyes, mouth. Cat: eyes; pupils, nose. Coffee: cup,
/// spoon; centre, spoon).
fn annotations() -> (Vec<Tensor>, Tensor) {
    let boxes = vec![
        Tensor::from_slice(&[
            76.0f32, 18., 124., 72., 59., 152., 90., 183., 155., 0., 200., 115.,
        ])
        .view([3, 4]),
        Tensor::from_slice(&[50.0f32, 64., 97., 108., 162., 80., 200., 124.]).view([2, 4]),
        Tensor::from_slice(&[39.0f32, 8., 174., 118., 124., 130., 171., 180.]).view([2, 4]),
    ];
    let points = Tensor::from_slice(&[
        90.0f32, 46., 106., 46., 98., 59., // astronaut
        72., 84., 179.5, 102., 139.5, 185., // cat
        106.5, 75., 150., 155., 150., 155., // coffee (the last point repeated)
    ])
    .view([3, 3, 2]);
    (boxes, points)
}

/// The class names of the hand-placed boxes.
const CLASSES: [&str; 6] = ["face", "badge", "shuttle", "eye", "cup", "spoon"];

/// (N,H,W) int64 mask: box k of each image is label k + 1 (later boxes on top).
fn box_mask(boxes: &Boxes, (h, w): (i64, i64)) -> Tensor {
    let n = boxes.data.size()[0];
    let mut masks = Vec::new();
    for (i, bx) in boxes.to_list().iter().enumerate() {
        let m = Tensor::zeros([h, w], (Kind::Int64, Device::Cpu));
        let v = Vec::<f32>::try_from(bx.reshape([-1])).unwrap_or_default();
        for (k, b) in v.chunks(4).enumerate() {
            let (x1, y1, x2, y2) = (b[0] as i64, b[1] as i64, b[2] as i64, b[3] as i64);
            let _ = m
                .narrow(0, y1, y2 - y1 + 1)
                .narrow(1, x1, x2 - x1 + 1)
                .fill_(k as i64 + 1);
        }
        let _ = i;
        masks.push(m);
    }
    assert_eq!(masks.len() as i64, n);
    Tensor::stack(&masks, 0)
}

fn pipeline(vs: &nn::VarStore, name: &str, annotations: AnnotationOptions) -> Result<Sequential> {
    Ok(Sequential::new(
        &(vs.root() / name),
        SequentialConfig {
            annotations,
            ..SequentialConfig::new(vec![
                AugSpec::RandomAffine(RandomAffineConfig {
                    degrees: (-30.0, 30.0),
                    translate: Some((0.1, 0.1)),
                    scale: Some((0.9, 1.2)),
                    shear: Some((-10.0, 10.0)),
                    p: 1.0,
                    ..Default::default()
                }),
                AugSpec::RandomHorizontalFlip(FlipConfig::default()),
                AugSpec::RandomResizedCrop(RandomResizedCropConfig {
                    size: (224, 224),
                    scale: (0.5, 1.0),
                    ..Default::default()
                }),
                AugSpec::ColorJitter(JitterConfig::new(0.2, 0.3, 0.2, 0.05)),
            ])
        },
    )?)
}

fn main() -> Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "out/annotations.png".to_string());
    let device = common::default_device();
    let photos = common::load_photos(224, device)?;
    let (box_list, points) = annotations();
    // Class ids (names in CLASSES), one per box.
    let ids = [&[0i64, 1, 2][..], &[3, 3], &[4, 5]].map(Tensor::from_slice);
    let boxes = Boxes::from_list(&box_list, BoxFormat::Xyxy)?.with_class_id_list(&ids)?;
    let mask = box_mask(&boxes, (224, 224));
    let record = Batch::new(photos.shallow_clone())
        .with_masks(mask.to_device(device))
        .with_boxes(boxes)
        .with_keypoints(Keypoints::new(points.to_device(device)));

    let vs = nn::VarStore::new(device);
    let exact = pipeline(&vs, "exact", AnnotationOptions::default())?;
    let kornia = pipeline(&vs, "kornia", AnnotationOptions::kornia())?;
    // For display, the detection mode: each box's visible region followed step by step
    // (tight boxes, none back from outside), boxes and keypoints that left flagged.
    let clipped = pipeline(&vs, "clipped", AnnotationOptions::detection())?;
    // Boxes coloured and named by class, the mask's labels tinted, keypoints yellow; boxes
    // and keypoints that left the image (invalid) are not drawn.
    let look = draw::DrawOptions {
        class_names: CLASSES.map(String::from).to_vec(),
        ..Default::default()
    };
    let paint = |b: &Batch| draw::f_draw(b, &look);
    let mut rows = vec![paint(&record)?];
    let mut last = None;
    for seed in 0..3 {
        tch::manual_seed(seed);
        let (aug, params) = exact.f_forward_batch(&record)?;
        rows.push(paint(&clipped.f_apply_batch(&record, &params)?)?);
        last = Some((aug, params));
    }
    let (aug, params) = last.expect("three draws");
    // The same boxes as oriented boxes: the same draw turns them with the image.
    let axis = record.boxes.as_ref().expect("boxes");
    let oriented = Boxes {
        data: BoxFormat::Xyxy.convert(&axis.data, BoxFormat::Xywhr),
        format: BoxFormat::Xywhr,
        ..axis.clone()
    };
    let turned = Batch {
        boxes: Some(oriented.clone()),
        ..record.clone()
    };
    let turned_out = clipped.f_apply_batch(&turned, &params)?;
    rows.push(paint(&turned_out)?);
    let back = exact.f_inverse_batch(&aug, &params, &photos.size())?;
    rows.push(paint(&back)?);
    common::write_grid(&rows, &out)?;
    println!(
        "wrote {out}: originals, three augmented draws, the last one with oriented boxes, \
         the last one mapped back"
    );
    // Oriented boxes through the same draw and back: their corners, in pixels.
    let there = exact.f_apply_batch(&turned, &params)?;
    let again = exact.f_inverse_batch(&there, &params, &photos.size())?;
    let corners = |b: &Boxes| {
        b.format
            .convert(&b.data, BoxFormat::Xyxyxyxy)
            .to_device(Device::Cpu)
    };
    let valid8 = axis
        .valid
        .as_ref()
        .expect("valid")
        .to_device(Device::Cpu)
        .unsqueeze(-1);
    let oriented_error = (corners(again.boxes.as_ref().expect("boxes")) - corners(&oriented))
        .abs()
        .where_scalarother(&valid8, 0.0)
        .max()
        .double_value(&[]);

    // How far the round trip lands, per box corner and keypoint, over 20 draws.
    let original = record
        .boxes
        .as_ref()
        .expect("boxes")
        .data
        .to_device(Device::Cpu);
    let valid = record
        .boxes
        .as_ref()
        .and_then(|b| b.valid.as_ref())
        .expect("valid")
        .to_device(Device::Cpu)
        .unsqueeze(-1);
    let mut worst = [0.0f64; 3];
    let mut growth = 0.0f64;
    for seed in 100..120 {
        tch::manual_seed(seed);
        let (a, p) = exact.f_forward_batch(&record)?;
        let b = exact.f_inverse_batch(&a, &p, &photos.size())?;
        let k = kornia.f_apply_batch(&record, &p)?;
        let kb = kornia.f_inverse_batch(&k, &p, &photos.size())?;
        let err = |t: &Tensor| {
            (t.to_device(Device::Cpu) - &original)
                .abs()
                .where_scalarother(&valid, 0.0)
                .max()
                .double_value(&[])
        };
        worst[0] = worst[0].max(err(&b.boxes.expect("boxes").data));
        worst[1] = worst[1].max(
            (b.keypoints
                .expect("keypoints")
                .points
                .to_device(Device::Cpu)
                - &points)
                .abs()
                .max()
                .double_value(&[]),
        );
        let kd = kb.boxes.expect("boxes").data.to_device(Device::Cpu);
        worst[2] = worst[2].max(err(&kd));
        // Growth of the box: mean over valid boxes of (area back / area before) - 1.
        let area = |t: &Tensor| {
            (t.narrow(-1, 2, 1) - t.narrow(-1, 0, 1) + 1.0)
                * (t.narrow(-1, 3, 1) - t.narrow(-1, 1, 1) + 1.0)
        };
        let g = (area(&kd) / area(&original) - 1.0)
            .where_scalarother(&valid, 0.0)
            .sum(Kind::Double)
            / valid.to_kind(Kind::Double).sum(Kind::Double);
        growth += g.double_value(&[]) / 20.0;
    }
    println!(
        "round trip over 20 draws (float32): boxes within {:.1e} px, keypoints within {:.1e} px",
        worst[0], worst[1]
    );
    println!(
        "Kornia's enclose-every-step boxes come back up to {:.1} px off, {:.0}% larger on average",
        worst[2],
        growth * 100.0
    );
    println!("oriented boxes (XYWHR) through the last draw and back: corners within {oriented_error:.1e} px");
    Ok(())
}
