//! Detection from a COCO file: the loader decodes the images with a random-resized crop and
//! moves their boxes with it, tch-dda augments images and boxes together on the device in
//! the detection mode, and a small network learns to classify and locate the object of
//! each image (single-object localisation). Draws a batch to target/data-example/detection.png.
//!
//! `cargo run --release -p tch-dda-data --example train_detection`
//!
//! The dataset is made by `make_coco` below from the crate's photos (assets/): a crop of the
//! astronaut, the cat or the coffee cup pasted at a random place and size on a noisy
//! background, its box and category in target/data-example/coco/{train,val}.json.

use anyhow::Result;
use std::path::{Path, PathBuf};
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tch_dda::prelude::*;
use tch_dda_data::{Dataset, Loader, LoaderConfig, Resize};

fn main() -> Result<()> {
    let root = make_coco()?;
    let device = Device::cuda_if_available();

    // The user code: a loader over the COCO file, a pipeline in the detection mode, a loop.
    let train = Dataset::coco(root.join("train.json"), &root)?;
    let classes = train.classes().to_vec();
    let loader = Loader::new(
        train,
        LoaderConfig {
            batch_size: 32,
            threads: 2,
            resize: Resize::RandomResizedCrop {
                height: 96,
                width: 96,
                scale: (0.6, 1.0),
                ratio: (0.8, 1.25),
            },
            device,
            ..Default::default()
        },
    )?;
    let vs = nn::VarStore::new(device);
    let aug = Sequential::new(
        vs.root() / "aug",
        SequentialConfig {
            annotations: AnnotationOptions {
                min_visibility: 0.5,
                ..AnnotationOptions::detection()
            },
            ..SequentialConfig::new(vec![
                AugSpec::RandomHorizontalFlip(FlipConfig::default()),
                AugSpec::RandomAffine(RandomAffineConfig::degrees(10.0).scale(0.9, 1.1)),
                AugSpec::ColorJitter(JitterConfig::new(0.2, 0.2, 0.2, 0.02)),
                AugSpec::Normalize(NormalizeConfig::imagenet()),
            ])
        },
    )?;
    tch::manual_seed(0); // the network's initialisation
    let net = network(&(vs.root() / "net"), classes.len() as i64);
    let mut opt = nn::Adam::default().build(&vs, 2e-3)?;
    for epoch in 0..12 {
        let mut rng = loader.generator(epoch);
        let mut batches = loader.epoch(epoch)?;
        let mut losses = Vec::new();
        for batch in &mut batches {
            let batch = batch?;
            let record = batch.record(batch.images.to_kind(Kind::Float) / 255.0);
            let (out, _) = rng.f_scope(|| aug.f_forward_batch(&record))??;
            let boxes = out.boxes.as_ref().expect("the record has boxes");
            // One object per image: its box, class and whether it is still in the frame.
            let keep = boxes
                .valid
                .as_ref()
                .unwrap()
                .select(1, 0)
                .nonzero()
                .squeeze_dim(1);
            let target = boxes.data.select(1, 0).index_select(0, &keep);
            let class = boxes
                .class_ids
                .as_ref()
                .unwrap()
                .select(1, 0)
                .index_select(0, &keep);
            let out_image = out.image.index_select(0, &keep);
            let (logits, pred) = split(&net.forward_t(&out_image, true), classes.len() as i64);
            let loss = logits.cross_entropy_for_logits(&class)
                + pred.smooth_l1_loss(&(target / 96.0), tch::Reduction::Mean, 0.05) * 10.0;
            opt.backward_step(&loss);
            losses.push(loss.double_value(&[]));
        }
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        println!("epoch {epoch}: loss {mean:.3}; {}", batches.summary());
    }

    // Validation: the whole image resized, Normalize only (train_only skips the rest).
    let eval_aug = aug.train_only();
    let val = Loader::new(
        Dataset::coco(root.join("val.json"), &root)?,
        LoaderConfig {
            batch_size: 64,
            shuffle: false,
            resize: Resize::Exact {
                height: 96,
                width: 96,
            },
            device,
            ..Default::default()
        },
    )?;
    let (mut right, mut iou_sum, mut total) = (0i64, 0f64, 0i64);
    let mut drawn = None;
    for batch in val.epoch(0)? {
        let batch = batch?;
        let x = eval_aug.forward_t(&(batch.images.to_kind(Kind::Float) / 255.0), false);
        let (logits, pred) = split(&net.forward_t(&x, false), classes.len() as i64);
        let objects = batch.objects.as_ref().unwrap();
        let truth = objects.boxes.select(1, 0);
        let guess = logits.argmax(-1, false);
        right += guess
            .eq_tensor(&objects.classes.select(1, 0))
            .sum(Kind::Int64)
            .int64_value(&[]);
        iou_sum += iou(&(pred * 96.0), &truth)
            .sum(Kind::Double)
            .double_value(&[]);
        total += batch.indices.len() as i64;
        if drawn.is_none() {
            drawn = Some((
                batch.images.narrow(0, 0, 8),
                predicted(&x, &net, classes.len() as i64),
            ));
        }
    }
    println!(
        "validation: class accuracy {right}/{total}, mean IoU {:.2}",
        iou_sum / total as f64
    );
    if let Some((images, record)) = drawn {
        let opts = tch_dda::draw::DrawOptions {
            class_names: classes.clone(),
            ..Default::default()
        };
        let record = Batch {
            image: images.to_kind(Kind::Float) / 255.0,
            ..record
        };
        let out = root.parent().unwrap_or(&root).join("detection.png");
        tch_dda::draw::f_save_grid(&[tch_dda::draw::f_draw(&record, &opts)?], &out)?;
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// The first 8 images' predicted boxes and classes, as a record to draw.
fn predicted(x: &Tensor, net: &impl ModuleT, classes: i64) -> Batch {
    let x = x.narrow(0, 0, 8);
    let (logits, pred) = split(&net.forward_t(&x, false), classes);
    let boxes = Boxes::xyxy((pred * 96.0).unsqueeze(1)).with_class_ids(logits.argmax(-1, true));
    Batch::new(x).with_boxes(boxes)
}

/// Class logits and a box in [0, 1] (x1, y1, x2, y2 of a 96² image).
fn split(out: &Tensor, classes: i64) -> (Tensor, Tensor) {
    (
        out.narrow(1, 0, classes),
        out.narrow(1, classes, 4).sigmoid(),
    )
}

/// Intersection over union of (B,4) boxes.
fn iou(a: &Tensor, b: &Tensor) -> Tensor {
    let c = |t: &Tensor, i| t.select(1, i);
    let iw = (c(a, 2).minimum(&c(b, 2)) - c(a, 0).maximum(&c(b, 0))).clamp_min(0.0);
    let ih = (c(a, 3).minimum(&c(b, 3)) - c(a, 1).maximum(&c(b, 1))).clamp_min(0.0);
    let inter = iw * ih;
    let area = |t: &Tensor| (c(t, 2) - c(t, 0)).clamp_min(0.0) * (c(t, 3) - c(t, 1)).clamp_min(0.0);
    &inter / (area(a) + area(b) - &inter + 1e-6)
}

/// A small convolutional network: class logits and four box coordinates.
fn network(p: &nn::Path, classes: i64) -> impl ModuleT {
    let conv = |i, o, name: &str| {
        nn::conv2d(
            p / name,
            i,
            o,
            3,
            nn::ConvConfig {
                padding: 1,
                ..Default::default()
            },
        )
    };
    nn::seq_t()
        .add(conv(3, 16, "c1"))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(conv(16, 32, "c2"))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(conv(32, 64, "c3"))
        .add_fn(|x| x.relu().max_pool2d_default(2))
        .add(conv(64, 64, "c4"))
        .add_fn(|x| x.relu().adaptive_avg_pool2d([3, 3]).flatten(1, -1))
        .add(nn::linear(
            p / "fc",
            64 * 9,
            classes + 4,
            Default::default(),
        ))
}

/// Writes 300 training and 60 validation images (128², JPEG) with one pasted object each,
/// and their COCO files (once; later runs reuse them). Seeded through torch's RNG.
fn make_coco() -> Result<PathBuf> {
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../assets");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/data-example/coco");
    if root.join("val.json").exists() {
        return Ok(root);
    }
    std::fs::create_dir_all(root.join("images"))?;
    let names = ["astronaut", "chelsea", "coffee"];
    let photos = names
        .iter()
        .map(|n| Ok(image::open(assets.join(format!("{n}.png")))?.to_rgb8()))
        .collect::<Result<Vec<_>>>()?;
    tch::manual_seed(0);
    let mut id = 0;
    for (split, n) in [("train", 300), ("val", 60)] {
        let (mut images, mut annotations) = (Vec::new(), Vec::new());
        let u = Vec::<f64>::try_from(&Tensor::rand([n * 6], (Kind::Double, Device::Cpu)))?;
        for (k, u) in u.chunks_exact(6).enumerate() {
            let class = ((u[0] * 3.0) as usize).min(2);
            let photo = &photos[class];
            let side = photo.width().min(photo.height());
            let crop = image::imageops::crop_imm(photo, (photo.width() - side) / 2, 0, side, side)
                .to_image();
            let s = 36 + (u[1] * 28.0) as u32;
            let object = image::imageops::resize(&crop, s, s, image::imageops::Triangle);
            let (x, y) = (
                (u[2] * (128 - s) as f64) as u32,
                (u[3] * (128 - s) as f64) as u32,
            );
            let tone = (u[4] * 120.0) as u8 + 40;
            let mut canvas = image::RgbImage::from_fn(128, 128, |px, py| {
                let v = tone.wrapping_add(((px * 7 + py * 13) % 23) as u8);
                image::Rgb([v, v.wrapping_add((u[5] * 40.0) as u8), v])
            });
            image::imageops::overlay(&mut canvas, &object, x.into(), y.into());
            let file = format!("images/{split}{k:03}.jpg");
            canvas.save(root.join(&file))?;
            images.push(
                serde_json::json!({"id": id, "file_name": file, "width": 128, "height": 128}),
            );
            annotations.push(serde_json::json!({
                "id": id, "image_id": id, "category_id": class + 1, "bbox": [x, y, s, s], "iscrowd": 0,
            }));
            id += 1;
        }
        let categories: Vec<_> = names
            .iter()
            .enumerate()
            .map(|(i, n)| serde_json::json!({"id": i + 1, "name": n}))
            .collect();
        let coco = serde_json::json!({"images": images, "annotations": annotations, "categories": categories});
        std::fs::write(root.join(format!("{split}.json")), coco.to_string())?;
    }
    Ok(root)
}
