//! The loader from the outside: order, sharding, determinism over thread counts, resume,
//! bad files, and the batches' content against the files written.

use image::{ImageBuffer, Luma, Rgb, Rgba};
use std::path::{Path, PathBuf};
use tch::{Kind, Tensor};
use tch_dda_data::{
    decode_image, Dataset, Error, Loader, LoaderConfig, LoaderState, OnError, Resize,
};

/// A fresh folder under the target directory, removed first if a previous run left it.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("data-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The colour that identifies image `i` of a generated folder.
fn colour(i: usize) -> [u8; 3] {
    [
        (i * 7 % 256) as u8,
        (i / 36 * 40 + 10) as u8,
        (i % 36 * 7) as u8,
    ]
}

/// `per_class` PNGs of a solid colour per image (sizes vary) in `classes` class folders;
/// returns the folder. Image `k` of class `c` is dataset index `c * per_class + k` (sorted
/// names), coloured `colour(index)`.
fn solid_folder(name: &str, classes: usize, per_class: usize) -> PathBuf {
    let root = scratch(name);
    for c in 0..classes {
        let dir = root.join(format!("class{c}"));
        std::fs::create_dir_all(&dir).unwrap();
        for k in 0..per_class {
            let i = c * per_class + k;
            let (w, h) = (20 + (i % 5) as u32 * 3, 16 + (i % 3) as u32 * 5);
            let img = ImageBuffer::from_pixel(w, h, Rgb(colour(i)));
            img.save(dir.join(format!("{k:03}.png"))).unwrap();
        }
    }
    root
}

fn config(threads: usize) -> LoaderConfig {
    LoaderConfig {
        batch_size: 4,
        threads,
        prefetch: 3,
        seed: 11,
        resize: Resize::Exact {
            height: 8,
            width: 10,
        },
        ..Default::default()
    }
}

/// Every batch of an epoch as (indices, labels, image bytes).
fn collect(epoch: tch_dda_data::Epoch) -> Vec<(Vec<usize>, Vec<i64>, Vec<u8>)> {
    epoch
        .map(|b| {
            let b = b.unwrap();
            let bytes = Vec::<u8>::try_from(&b.images.flatten(0, -1)).unwrap();
            (b.indices, Vec::<i64>::try_from(&b.labels).unwrap(), bytes)
        })
        .collect()
}

#[test]
fn batches_hold_the_files_of_their_indices_with_their_labels() {
    let root = solid_folder("content", 3, 7);
    let data = Dataset::image_folder(&root).unwrap();
    assert_eq!(data.classes(), ["class0", "class1", "class2"]);
    assert_eq!(data.len(), 21);
    let loader = Loader::new(data, config(2)).unwrap();
    let mut seen = Vec::new();
    for batch in loader.epoch(0).unwrap() {
        let batch = batch.unwrap();
        assert_eq!(batch.images.kind(), Kind::Uint8);
        let n = batch.indices.len();
        assert_eq!(batch.images.size(), [n as i64, 3, 8, 10]);
        let labels = Vec::<i64>::try_from(&batch.labels).unwrap();
        for (k, &i) in batch.indices.iter().enumerate() {
            assert_eq!(labels[k], (i / 7) as i64, "label of index {i}");
            // A solid image stays exactly its colour through the antialiased resize.
            let px = batch.images.get(k as i64);
            for (c, &v) in colour(i).iter().enumerate() {
                let ch = px.get(c as i64);
                assert_eq!(ch.min().int64_value(&[]), v as i64, "index {i} channel {c}");
                assert_eq!(ch.max().int64_value(&[]), v as i64, "index {i} channel {c}");
            }
        }
        seen.extend(batch.indices);
    }
    assert_eq!(seen.len(), 21);
    seen.sort_unstable();
    assert_eq!(seen, (0..21).collect::<Vec<_>>());
}

#[test]
fn the_same_seed_gives_the_same_batches_with_1_2_and_4_threads() {
    let root = solid_folder("threads", 2, 9);
    let crop = Resize::RandomResizedCrop {
        height: 6,
        width: 6,
        scale: (0.2, 1.0),
        ratio: (0.5, 2.0),
    };
    for resize in [config(1).resize, crop] {
        let runs: Vec<_> = [1, 2, 4]
            .iter()
            .map(|&t| {
                let c = LoaderConfig {
                    resize,
                    ..config(t)
                };
                let loader = Loader::new(Dataset::image_folder(&root).unwrap(), c).unwrap();
                collect(loader.epoch(3).unwrap())
            })
            .collect();
        assert_eq!(runs[0].len(), 5);
        assert_eq!(runs[0], runs[1], "{resize:?}: 1 and 2 threads");
        assert_eq!(runs[0], runs[2], "{resize:?}: 1 and 4 threads");
    }
    // Another epoch shuffles differently, another seed too.
    let loader = Loader::new(Dataset::image_folder(&root).unwrap(), config(2)).unwrap();
    assert_ne!(loader.order(0).unwrap(), loader.order(1).unwrap());
    let other = Loader::new(
        Dataset::image_folder(&root).unwrap(),
        LoaderConfig {
            seed: 12,
            ..config(2)
        },
    )
    .unwrap();
    assert_ne!(loader.order(0).unwrap(), other.order(0).unwrap());
}

#[test]
fn random_crops_vary_with_the_batch_and_stay_inside_the_rule() {
    // A horizontal ramp: a crop's mean tells where it was cut.
    let root = scratch("ramp");
    std::fs::create_dir_all(root.join("a")).unwrap();
    for k in 0..8 {
        let img = ImageBuffer::from_fn(64, 48, |x, _| Rgb([(x * 4) as u8, 0, 0]));
        img.save(root.join("a").join(format!("{k}.png"))).unwrap();
    }
    let c = LoaderConfig {
        resize: Resize::RandomResizedCrop {
            height: 16,
            width: 16,
            scale: (0.1, 0.3),
            ratio: (0.75, 1.333),
        },
        ..config(2)
    };
    let loader = Loader::new(Dataset::image_folder(&root).unwrap(), c).unwrap();
    let means: Vec<f64> = collect(loader.epoch(0).unwrap())
        .into_iter()
        .flat_map(|(idx, _, bytes)| {
            (0..idx.len())
                .map(|k| {
                    let red = &bytes[k * 768..k * 768 + 256];
                    red.iter().map(|&v| v as f64).sum::<f64>() / 256.0
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(means.len(), 8);
    // Identical files, different crops: the means differ (a crop of at most 30% of the
    // area cannot cover the whole ramp, whose mean is 126).
    let distinct = means
        .iter()
        .map(|m| (m * 100.0) as i64)
        .collect::<std::collections::BTreeSet<_>>();
    assert!(distinct.len() >= 6, "crops {means:?}");
}

#[derive(serde::Deserialize)]
struct SamplerCase {
    n: usize,
    seed: u64,
    epoch: u64,
    world: usize,
    rank: usize,
    order: Vec<usize>,
}

#[derive(serde::Deserialize)]
struct SamplerFixture {
    cases: Vec<SamplerCase>,
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A dataset of `n` entries that are never read (order and sharding only).
fn unread(n: usize) -> Dataset {
    let samples = (0..n)
        .map(|i| tch_dda_data::Sample {
            path: PathBuf::from(format!("never-read-{i}.png")),
            label: -1,
            objects: Vec::new(),
        })
        .collect();
    Dataset::from_samples(samples, Vec::new()).unwrap()
}

#[test]
fn the_order_is_pytorchs_distributed_sampler_without_its_padding() {
    let text = std::fs::read_to_string(fixture("sampler.json")).unwrap();
    let fx: SamplerFixture = serde_json::from_str(&text).unwrap();
    assert!(fx.cases.len() >= 10);
    for case in fx.cases {
        let loader = Loader::new(
            unread(case.n),
            LoaderConfig {
                seed: case.seed,
                rank: case.rank,
                world_size: case.world,
                ..Default::default()
            },
        )
        .unwrap();
        let ours = loader.order(case.epoch).unwrap();
        // The sampler pads every rank to ceil(n / world) with the order's first entries.
        let mine = (case.n - case.rank).div_ceil(case.world);
        assert_eq!(
            ours,
            case.order[..mine],
            "n {} rank {}/{}",
            case.n,
            case.rank,
            case.world
        );
    }
}

#[test]
fn shards_of_1_2_and_4_ranks_partition_the_dataset() {
    for n in [1, 7, 64, 101] {
        for world in [1, 2, 4] {
            let mut all = Vec::new();
            let mut batches = 0;
            for rank in 0..world {
                let loader = Loader::new(
                    unread(n),
                    LoaderConfig {
                        rank,
                        world_size: world,
                        batch_size: 8,
                        ..Default::default()
                    },
                )
                .unwrap();
                let order = loader.order(2).unwrap();
                batches += loader.batches_per_epoch();
                assert_eq!(loader.batches_per_epoch(), order.len().div_ceil(8));
                all.extend(order);
            }
            all.sort_unstable();
            assert_eq!(all, (0..n).collect::<Vec<_>>(), "n {n} world {world}");
            assert!(batches >= n.div_ceil(8));
        }
    }
}

#[test]
fn a_resumed_epoch_continues_the_same_batches() {
    let root = solid_folder("resume", 2, 10);
    let c = LoaderConfig {
        resize: Resize::random_resized_crop(6, 6),
        ..config(3)
    };
    let loader = Loader::new(Dataset::image_folder(&root).unwrap(), c.clone()).unwrap();
    let whole = collect(loader.epoch(4).unwrap());
    assert_eq!(whole.len(), 5);
    let mut epoch = loader.epoch(4).unwrap();
    let first: Vec<_> = (&mut epoch).take(2).map(|b| b.unwrap().indices).collect();
    assert_eq!(first, [whole[0].0.clone(), whole[1].0.clone()]);
    let saved = serde_json::to_string(&epoch.state()).unwrap();
    drop(epoch);
    // A new process: a new loader, the state read back.
    let loader = Loader::new(Dataset::image_folder(&root).unwrap(), c.clone()).unwrap();
    let state: LoaderState = serde_json::from_str(&saved).unwrap();
    let rest = collect(loader.resume(&state).unwrap());
    assert_eq!(rest, whole[2..]);
    // A state from another seed or shard is refused.
    let other = Loader::new(
        Dataset::image_folder(&root).unwrap(),
        LoaderConfig { seed: 5, ..c },
    )
    .unwrap();
    assert!(matches!(other.resume(&state), Err(Error::State(_))));
    let past = LoaderState {
        next_batch: 99,
        ..state
    };
    assert!(matches!(loader.resume(&past), Err(Error::State(_))));
}

#[test]
fn settings_out_of_their_domain_are_typed_errors() {
    let cases: Vec<(LoaderConfig, &str)> = vec![
        (
            LoaderConfig {
                batch_size: 0,
                ..Default::default()
            },
            "batch_size",
        ),
        (
            LoaderConfig {
                threads: 0,
                ..Default::default()
            },
            "threads",
        ),
        (
            LoaderConfig {
                prefetch: 0,
                ..Default::default()
            },
            "prefetch",
        ),
        (
            LoaderConfig {
                world_size: 0,
                ..Default::default()
            },
            "world_size",
        ),
        (
            LoaderConfig {
                rank: 2,
                world_size: 2,
                ..Default::default()
            },
            "rank",
        ),
        (
            LoaderConfig {
                max_pixels: 0,
                ..Default::default()
            },
            "max_pixels",
        ),
        (
            LoaderConfig {
                resize: Resize::Exact {
                    height: 0,
                    width: 4,
                },
                ..Default::default()
            },
            "resize",
        ),
        (
            LoaderConfig {
                resize: Resize::RandomResizedCrop {
                    height: 4,
                    width: 4,
                    scale: (0.5, 1.5),
                    ratio: (1.0, 1.0),
                },
                ..Default::default()
            },
            "resize",
        ),
    ];
    for (c, field) in cases {
        match Loader::new(unread(3), c) {
            Err(Error::Config { name, .. }) => assert_eq!(name, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(matches!(
        Loader::new(unread(0), LoaderConfig::default()),
        Err(Error::Dataset { .. })
    ));
    let empty = scratch("empty-root");
    assert!(matches!(
        Dataset::image_folder(&empty),
        Err(Error::Dataset { .. })
    ));
    std::fs::create_dir_all(empty.join("cats")).unwrap();
    std::fs::write(empty.join("cats/readme.txt"), "no images").unwrap();
    assert!(matches!(
        Dataset::image_folder(&empty),
        Err(Error::Dataset { .. })
    ));
    assert!(matches!(
        Dataset::image_folder(empty.join("missing")),
        Err(Error::Io { .. })
    ));
}

#[test]
fn a_list_file_reads_paths_and_labels() {
    let root = solid_folder("list", 1, 3);
    let list = root.join("train.txt");
    std::fs::write(
        &list,
        "# path label\nclass0/000.png 2\n\nclass0/001.png 0\nclass0/002.png\n",
    )
    .unwrap();
    let data = Dataset::list_file(&list).unwrap();
    let labels: Vec<i64> = data.samples().iter().map(|s| s.label).collect();
    assert_eq!(labels, [2, 0, -1]);
    assert_eq!(data.samples()[1].path, root.join("class0/001.png"));
    std::fs::write(&list, "class0/000.png -4\n").unwrap();
    match Dataset::list_file(&list) {
        Err(Error::Dataset { source_name, .. }) => assert!(source_name.ends_with(":1")),
        other => panic!("{other:?}"),
    }
}

/// A PNG file whose header claims `w`×`h` pixels, with a single empty data chunk.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    fn crc(bytes: &[u8]) -> u32 {
        let mut c = 0xffff_ffffu32;
        for &b in bytes {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xedb8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend(data);
        out.extend(&body);
        out.extend(crc(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A JPEG with an EXIF block saying "rotate 90° clockwise to display" (orientation 6).
fn jpeg_with_orientation_6(w: u32, h: u32) -> Vec<u8> {
    let img = ImageBuffer::from_fn(w, h, |x, _| Rgb([if x < w / 2 { 250 } else { 5 }, 0, 0]));
    let mut jpeg = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let tiff: Vec<u8> = [
        b"MM\x00\x2a\x00\x00\x00\x08".as_slice(),
        &[0, 1],                                     // one entry
        &[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0], // Orientation, SHORT, 1, value 6
        &[0, 0, 0, 0],                               // no next IFD
    ]
    .concat();
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend([0xff, 0xe1]);
    out.extend(((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

#[derive(serde::Deserialize)]
struct Decoded {
    height: i64,
    width: i64,
    rgb: Vec<u8>,
}

fn reference(name: &str) -> Tensor {
    let d: Decoded =
        serde_json::from_str(&std::fs::read_to_string(fixture(name)).unwrap()).unwrap();
    Tensor::from_slice(&d.rgb)
        .view([d.height, d.width, 3])
        .permute([2, 0, 1])
}

fn max_diff(a: &Tensor, b: &Tensor) -> i64 {
    (a.to_kind(Kind::Int64) - b.to_kind(Kind::Int64))
        .abs()
        .max()
        .int64_value(&[])
}

#[test]
fn every_kind_of_file_decodes_to_rgb_or_is_a_typed_error() {
    let dir = scratch("files");
    let limit = tch_dda_data::DEFAULT_MAX_PIXELS;
    // Grayscale, 16-bit, alpha: RGB with the right values.
    let gray = ImageBuffer::from_fn(5, 4, |x, y| Luma([(x * 40 + y) as u8]));
    gray.save(dir.join("gray.png")).unwrap();
    let x = decode_image(dir.join("gray.png"), limit).unwrap();
    assert_eq!(x.size(), [3, 4, 5]);
    // Row 3, column 2 holds 2 * 40 + 3.
    assert_eq!(x.get(0).get(3).get(2).int64_value(&[]), 83);
    assert!(x.get(0).equal(&x.get(2)));
    let deep: ImageBuffer<Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_fn(3, 2, |x, _| Rgb([65535, (x * 257 * 100) as u16, 0]));
    deep.save(dir.join("deep.png")).unwrap();
    let x = decode_image(dir.join("deep.png"), limit).unwrap();
    assert_eq!(x.get(0).min().int64_value(&[]), 255);
    assert_eq!(x.get(1).get(0).get(2).int64_value(&[]), 200);
    let rgba = ImageBuffer::from_pixel(3, 3, Rgba([10u8, 20, 30, 0]));
    rgba.save(dir.join("alpha.png")).unwrap();
    let x = decode_image(dir.join("alpha.png"), limit).unwrap();
    assert_eq!(x.size(), [3, 3, 3]);
    assert_eq!(x.get(2).max().int64_value(&[]), 30);
    // A PNG named .jpg decodes from its content.
    std::fs::copy(dir.join("alpha.png"), dir.join("named-wrong.jpg")).unwrap();
    assert!(decode_image(dir.join("named-wrong.jpg"), limit).is_ok());
    // EXIF orientation 6: a 16x8 stored image is shown 8 wide, 16 high, its left half on top.
    std::fs::write(dir.join("exif.jpg"), jpeg_with_orientation_6(16, 8)).unwrap();
    let x = decode_image(dir.join("exif.jpg"), limit).unwrap();
    assert_eq!(x.size(), [3, 16, 8]);
    let red = x.get(0).to_kind(Kind::Float);
    assert!(red.narrow(0, 0, 6).mean(Kind::Float).double_value(&[]) > 200.0);
    assert!(red.narrow(0, 10, 6).mean(Kind::Float).double_value(&[]) < 50.0);
    // CMYK and an ordinary JPEG against libjpeg-turbo's decode (Pillow, the fixture script).
    let cmyk = decode_image(fixture("cmyk.jpg"), limit).unwrap();
    assert!(
        max_diff(&cmyk, &reference("cmyk.json")) <= 3,
        "CMYK off by {}",
        max_diff(&cmyk, &reference("cmyk.json"))
    );
    let photo = decode_image(fixture("photo.jpg"), limit).unwrap();
    assert!(max_diff(&photo, &reference("photo.json")) <= 3);

    // Truncated, empty, not an image, a decompression bomb: typed errors naming the file.
    let mut jpeg = jpeg_with_orientation_6(32, 32);
    jpeg.truncate(jpeg.len() / 3);
    std::fs::write(dir.join("truncated.jpg"), &jpeg).unwrap();
    std::fs::write(dir.join("empty.png"), b"").unwrap();
    std::fs::write(dir.join("text.png"), b"just some text, not pixels").unwrap();
    std::fs::write(dir.join("bomb.png"), png_header_only(100_000, 100_000)).unwrap();
    for name in ["truncated.jpg", "empty.png", "text.png"] {
        match decode_image(dir.join(name), limit) {
            Err(Error::Decode { path, .. }) => assert!(path.ends_with(name)),
            other => panic!("{name}: {other:?}"),
        }
    }
    match decode_image(dir.join("bomb.png"), limit) {
        Err(Error::TooLarge { width, height, .. }) => {
            assert_eq!((width, height), (100_000, 100_000))
        }
        other => panic!("bomb: {other:?}"),
    }
    assert!(matches!(
        decode_image(dir.join("missing.png"), limit),
        Err(Error::Io { .. })
    ));
}

#[test]
fn bad_files_fail_their_batch_or_are_skipped_and_counted() {
    let root = solid_folder("bad", 1, 8);
    let class = root.join("class0");
    std::fs::write(class.join("003.png"), b"not a png").unwrap();
    std::fs::write(class.join("006.png"), png_header_only(50_000, 50_000)).unwrap();
    let c = LoaderConfig {
        shuffle: false,
        ..config(2)
    };
    let loader = Loader::new(Dataset::image_folder(&root).unwrap(), c.clone()).unwrap();
    let results: Vec<_> = loader.epoch(0).unwrap().collect();
    assert_eq!(results.len(), 2);
    assert!(matches!(&results[0], Err(Error::Decode { path, .. }) if path.ends_with("003.png")));
    assert!(matches!(&results[1], Err(Error::TooLarge { .. })));

    let skip = Loader::new(
        Dataset::image_folder(&root).unwrap(),
        LoaderConfig {
            on_error: OnError::Skip,
            ..c
        },
    )
    .unwrap();
    let mut epoch = skip.epoch(0).unwrap();
    let batches: Vec<_> = (&mut epoch).map(|b| b.unwrap().indices).collect();
    assert_eq!(batches, [vec![0, 1, 2], vec![4, 5, 7]]);
    let summary = epoch.summary();
    assert_eq!(summary.images, 6);
    let skipped: Vec<_> = summary
        .skipped
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(skipped, ["003.png", "006.png"]);
}

#[test]
fn original_sizes_must_agree_within_a_batch() {
    let root = solid_folder("original", 1, 4); // sizes differ from image to image
    let loader = Loader::new(
        Dataset::image_folder(&root).unwrap(),
        LoaderConfig {
            resize: Resize::Original,
            shuffle: false,
            ..config(1)
        },
    )
    .unwrap();
    let first = loader.epoch(0).unwrap().next().unwrap();
    match first {
        Err(Error::Decode { message, .. }) => assert!(message.contains("Resize::Original")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dropping_an_epoch_early_stops_its_workers() {
    let root = solid_folder("drop", 1, 40);
    let loader = Loader::new(
        Dataset::image_folder(&root).unwrap(),
        LoaderConfig {
            batch_size: 2,
            ..config(4)
        },
    )
    .unwrap();
    for _ in 0..5 {
        let mut epoch = loader.epoch(0).unwrap();
        assert!(epoch.next().unwrap().is_ok());
        drop(epoch); // joins the workers: a hang here fails the test by its timeout
    }
    // The same loader still runs whole epochs afterwards, with a progress bar too (drawn
    // nowhere here: stderr is not a terminal), which ends with the epoch.
    assert_eq!(loader.epoch(1).unwrap().count(), 20);
    let mut epoch = loader.epoch(2).unwrap();
    assert_eq!(epoch.size_hint(), (20, Some(20)));
    epoch.next();
    assert_eq!(epoch.size_hint(), (19, Some(19)));
    drop(epoch);
    let plain = collect(loader.epoch(2).unwrap());
    let shown = collect(loader.epoch(2).unwrap().with_progress());
    assert_eq!(plain, shown);
}

/// Per image: a red and a green rectangle on black (JPEG would blur the edges: PNG), and a
/// COCO file with their boxes (red: category 7, green: category 3, listed in that order).
fn coco_folder(name: &str, n: usize) -> (PathBuf, PathBuf) {
    let root = scratch(name);
    let mut images = Vec::new();
    let mut annotations = Vec::new();
    for i in 0..n {
        let (w, h) = (60 + (i % 4) as u32 * 10, 50 + (i % 3) as u32 * 8);
        let red = (3 + i as u32 % 9, 4 + i as u32 % 7, 18 + i as u32 % 11, 15);
        let green = (w - 25, h - 20 - i as u32 % 5, 20, 14);
        let inside = |(x, y, bw, bh): (u32, u32, u32, u32), px: u32, py: u32| {
            px >= x && px < x + bw && py >= y && py < y + bh
        };
        let img = ImageBuffer::from_fn(w, h, |px, py| {
            Rgb::<u8>([
                if inside(red, px, py) { 255 } else { 0 },
                if inside(green, px, py) { 255 } else { 0 },
                0,
            ])
        });
        let file = format!("img{i:02}.png");
        img.save(root.join(&file)).unwrap();
        images.push(serde_json::json!({"id": 100 + i, "file_name": file, "width": w, "height": h}));
        for (cat, (x, y, bw, bh)) in [(7, red), (3, green)] {
            // The outline is the rectangle; the red object has keypoints: its centre and
            // one unlabelled.
            let (cx, cy) = (x as f64 + bw as f64 / 2.0, y as f64 + bh as f64 / 2.0);
            let keypoints = if cat == 7 {
                vec![cx, cy, 2.0, 0.0, 0.0, 0.0]
            } else {
                vec![]
            };
            annotations.push(serde_json::json!({
                "id": annotations.len(), "image_id": 100 + i, "category_id": cat,
                "bbox": [x, y, bw, bh], "iscrowd": 0, "area": bw * bh,
                "segmentation": [[x, y, x + bw, y, x + bw, y + bh, x, y + bh]],
                "keypoints": keypoints,
            }));
        }
    }
    // A crowd region, left out.
    annotations.push(serde_json::json!({
        "id": 999, "image_id": 100, "category_id": 3, "bbox": [0, 0, 5, 5], "iscrowd": 1,
    }));
    let coco = serde_json::json!({
        "images": images,
        "annotations": annotations,
        "categories": [{"id": 7, "name": "red"}, {"id": 3, "name": "green"}],
    });
    let file = root.join("instances.json");
    std::fs::write(&file, coco.to_string()).unwrap();
    (file, root)
}

/// The enclosure `[x1, y1, x2, y2]` (pixel edges) of the pixels of `channel` above half
/// intensity, `None` when there is none.
fn enclosure_of(image: &Tensor, channel: i64) -> Option<[f64; 4]> {
    let on = image.get(channel).gt(127).nonzero(); // (K, 2) as (y, x)
    if on.size()[0] == 0 {
        return None;
    }
    let ys = on.select(1, 0);
    let xs = on.select(1, 1);
    let v = |t: Tensor| t.int64_value(&[]) as f64;
    Some([
        v(xs.min()),
        v(ys.min()),
        v(xs.max()) + 1.0,
        v(ys.max()) + 1.0,
    ])
}

#[test]
fn coco_boxes_move_with_the_decode_time_crop_and_resize() {
    let (file, root) = coco_folder("coco", 12);
    let data = Dataset::coco(&file, &root).unwrap();
    assert_eq!(data.classes(), ["green", "red"]); // sorted by category id: 3, 7
    assert!(data.is_detection());
    assert_eq!(data.samples()[0].objects.len(), 2); // the crowd region left out
    assert_eq!(data.samples()[0].objects[0].class, 1);
    let crop = Resize::RandomResizedCrop {
        height: 48,
        width: 64,
        scale: (0.3, 1.0),
        ratio: (0.75, 1.333),
    };
    let mut checked = (0, 0, 0);
    let centre = |shorter, height, width| Resize::ShorterThenCenter {
        shorter,
        height,
        width,
    };
    for resize in [
        Resize::Exact {
            height: 40,
            width: 52,
        },
        crop,
        centre(44, 40, 40),
        centre(30, 40, 36), // padded
    ] {
        let loader = Loader::new(
            data.clone(),
            LoaderConfig {
                resize,
                batch_size: 5,
                ..config(2)
            },
        )
        .unwrap();
        for epoch in 0..4 {
            for batch in loader.epoch(epoch).unwrap() {
                let batch = batch.unwrap();
                let objects = batch.objects.as_ref().unwrap();
                let b = batch.indices.len() as i64;
                assert_eq!(objects.boxes.size(), [b, 2, 4]);
                for k in 0..b {
                    let image = batch.images.get(k);
                    for j in 0..2 {
                        let class = objects.classes.int64_value(&[k, j]);
                        // red (class 1) is channel 0, green (class 0) channel 1.
                        let seen = enclosure_of(&image, 1 - class);
                        let bx = Vec::<f32>::try_from(&objects.boxes.get(k).get(j)).unwrap();
                        let area = (bx[2] - bx[0]) * (bx[3] - bx[1]);
                        if objects.valid.int64_value(&[k, j]) == 0 {
                            assert!(seen.is_none() || area == 0.0, "an invalid box with pixels");
                            checked.1 += 1;
                        } else if area >= 4.0 {
                            let seen = seen.expect("a valid box without its pixels");
                            for c in 0..4 {
                                assert!(
                                    (seen[c] - bx[c] as f64).abs() <= 1.0,
                                    "{resize:?}: box {bx:?}, pixels {seen:?}"
                                );
                            }
                            // The mask is the object's pixels, up to its outline.
                            let mask = objects.masks.as_ref().unwrap().get(k).get(j);
                            let pixels = image.get(1 - class).gt(127);
                            let differ = mask.ne_tensor(&pixels.to_kind(Kind::Uint8));
                            let differ = differ.sum(Kind::Int64).int64_value(&[]) as f32;
                            let outline = 2.0 * (bx[2] - bx[0] + bx[3] - bx[1]) + 4.0;
                            assert!(differ <= outline, "{resize:?}: {differ} pixels differ");
                            // The red object's centre keypoint: the centre of its pixels.
                            if class == 1 {
                                let (pts, ok) = objects.keypoints.as_ref().unwrap();
                                let at = j * 2;
                                assert_eq!(ok.int64_value(&[k, at + 1]), 0, "unlabelled");
                                let whole = (0..4).all(|c| (seen[c] - bx[c] as f64).abs() <= 1.0)
                                    && bx[0] > 0.5
                                    && bx[1] > 0.5;
                                if whole && ok.int64_value(&[k, at]) == 1 {
                                    let px = pts.double_value(&[k, at, 0]);
                                    let py = pts.double_value(&[k, at, 1]);
                                    assert!((px - (seen[0] + seen[2]) / 2.0).abs() <= 1.0);
                                    assert!((py - (seen[1] + seen[3]) / 2.0).abs() <= 1.0);
                                    checked.2 += 1;
                                }
                            }
                            checked.0 += 1;
                        }
                    }
                }
                // The record the pipeline takes carries them.
                let rec = batch.record(batch.images.to_kind(Kind::Float) / 255.0);
                let ids = rec.boxes.unwrap().class_ids.unwrap();
                assert!(ids.equal(&objects.classes));
                let (h, w) = (rec.image.size()[2], rec.image.size()[3]);
                assert_eq!(rec.masks.unwrap().size(), [b, 2, h, w]);
                assert_eq!(rec.keypoints.unwrap().points.size(), [b, 4, 2]);
            }
        }
    }
    assert!(
        checked.0 >= 60 && checked.1 >= 1 && checked.2 >= 20,
        "checked (valid, invalid, keypoints) = {checked:?}"
    );
}

#[test]
fn coco_files_that_are_not_cocos_layout_are_typed_errors() {
    let root = scratch("coco-bad");
    let file = root.join("a.json");
    let cases = [
        (r#"{"images": []}"#, "not a COCO"),
        (
            r#"{"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "a"}],
                "annotations": [{"image_id": 2, "bbox": [0, 0, 1, 1], "category_id": 1}]}"#,
            "image id 2",
        ),
        (
            r#"{"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "a"}],
                "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1], "category_id": 5}]}"#,
            "category id 5",
        ),
        (
            r#"{"images": [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}],
                "categories": []}"#,
            "appears twice",
        ),
        (
            r#"{"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "a"}],
                "annotations": [{"image_id": 1, "bbox": [0, 0, -3, 1], "category_id": 1}]}"#,
            "bbox",
        ),
        (
            r#"{"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "a"}],
                "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1], "category_id": 1,
                                 "segmentation": {"size": [4, 4], "counts": "abc"}}]}"#,
            "run-length",
        ),
        (
            r#"{"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "a"}],
                "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1], "category_id": 1,
                                 "segmentation": [[0, 0, 3, 0]]}]}"#,
            "at least 3",
        ),
        (
            r#"{"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1, "name": "a"}],
                "annotations": [{"image_id": 1, "bbox": [0, 0, 1, 1], "category_id": 1,
                                 "keypoints": [1, 2, 2, 5]}]}"#,
            "triples",
        ),
    ];
    for (text, says) in cases {
        std::fs::write(&file, text).unwrap();
        match Dataset::coco(&file, &root) {
            Err(Error::Dataset { problem, .. }) => assert!(problem.contains(says), "{problem}"),
            other => panic!("{says}: {other:?}"),
        }
    }
}
