//! The loader: a seeded, sharded order of the dataset, decoded on worker threads into uint8
//! batches, prefetched and copied to the device.

use crate::dataset::Dataset;
use crate::decode::{self, Resize, DEFAULT_MAX_PIXELS};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;
use tch::{Device, Kind, Tensor};
use tch_dda::Generator;

/// What the loader does with a file it cannot decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnError {
    /// The batch holding it is an `Err` naming the file; the epoch goes on with the next.
    Fail,
    /// The file is left out of its batch (which is one image shorter), counted and named in
    /// [`Epoch::summary`].
    Skip,
}

/// How a [`Loader`] reads its dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoaderConfig {
    /// Images per batch (the last one of an epoch may be shorter unless `drop_last`).
    pub batch_size: usize,
    /// Decode threads.
    pub threads: usize,
    /// Batches decoded ahead of the one the training loop holds (at least 1; `threads` or
    /// more keeps every thread busy).
    pub prefetch: usize,
    /// Shuffle every epoch (`randperm` from torch's RNG seeded with `seed + epoch`, as
    /// PyTorch's `DistributedSampler`); `false` keeps the dataset's order.
    pub shuffle: bool,
    /// The seed of the shuffle and of the decode-time random crops.
    pub seed: u64,
    /// Leave out the last batch of an epoch when it is shorter than `batch_size`.
    pub drop_last: bool,
    /// This process's rank in a data-parallel job (`0..world_size`).
    pub rank: usize,
    /// The number of processes: each reads every `world_size`-th position of the shuffled
    /// order from `rank` on (`DistributedSampler`'s split, without its padding: the shards
    /// partition the dataset exactly).
    pub world_size: usize,
    /// What each image becomes before batching.
    pub resize: Resize,
    /// What an undecodable file does.
    pub on_error: OnError,
    /// The largest image, in pixels, that is decoded (read from the header first).
    pub max_pixels: u64,
    /// Where the batches go (a CUDA device: pinned host memory and a non-blocking copy).
    #[serde(skip, default = "cpu")]
    pub device: Device,
}

fn cpu() -> Device {
    Device::Cpu
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            batch_size: 32,
            threads: 4,
            prefetch: 8,
            shuffle: true,
            seed: 0,
            drop_last: false,
            rank: 0,
            world_size: 1,
            resize: Resize::Exact {
                height: 224,
                width: 224,
            },
            on_error: OnError::Fail,
            max_pixels: DEFAULT_MAX_PIXELS,
            device: Device::Cpu,
        }
    }
}

impl LoaderConfig {
    fn check(&self) -> Result<()> {
        let bad = |name, value: String, allowed: &str| {
            Err(Error::Config {
                name,
                value,
                allowed: allowed.into(),
            })
        };
        if self.batch_size == 0 || self.batch_size > 1 << 20 {
            return bad("batch_size", self.batch_size.to_string(), "1 to 2^20");
        }
        if self.threads == 0 || self.threads > 1024 {
            return bad("threads", self.threads.to_string(), "1 to 1024");
        }
        if self.prefetch == 0 || self.prefetch > 1 << 16 {
            return bad("prefetch", self.prefetch.to_string(), "1 to 65536 batches");
        }
        if self.world_size == 0 {
            return bad("world_size", "0".into(), "1 or more processes");
        }
        if self.rank >= self.world_size {
            return bad(
                "rank",
                self.rank.to_string(),
                &format!("0 to world_size - 1 = {}", self.world_size - 1),
            );
        }
        if self.max_pixels == 0 {
            return bad("max_pixels", "0".into(), "1 or more pixels");
        }
        self.resize.check()
    }
}

/// A batch as the loader yields it.
#[derive(Debug)]
pub struct ImageBatch {
    /// (B, 3, H, W) uint8 on the loader's device.
    pub images: Tensor,
    /// (B,) int64 class indices on the loader's device (-1 where unlabelled).
    pub labels: Tensor,
    /// The dataset indices of the images, in batch order.
    pub indices: Vec<usize>,
    /// The objects of a detection dataset, moved with the decode-time resize or crop.
    pub objects: Option<Objects>,
}

/// A batch's objects, padded to the most objects an image of the batch has.
#[derive(Debug)]
pub struct Objects {
    /// (B, N, 4) float32 `[x1, y1, x2, y2]` in the batch's pixels (continuous coordinates),
    /// clipped to the image.
    pub boxes: Tensor,
    /// (B, N) int64 class indices (-1 on padding).
    pub classes: Tensor,
    /// (B, N) bool: a real object with some area left inside the image (false on padding
    /// and on objects the decode-time crop removed).
    pub valid: Tensor,
    /// (B, N, H, W) uint8 instance masks (1 inside object k's polygons), when the dataset
    /// has polygons: rasterised at the batch's size (pixel centres inside), after the
    /// decode-time resize or crop.
    pub masks: Option<Tensor>,
    /// (B, N·K, 2) float32 keypoints (object k's in rows k·K..(k+1)·K) and their (B, N·K)
    /// validity (labelled and inside the image), when the dataset has keypoints.
    pub keypoints: Option<(Tensor, Tensor)>,
}

impl ImageBatch {
    /// A [`tch_dda::Batch`] of `image` (the batch's images as the pipeline takes them, for
    /// example `images.to_kind(Float) / 255`) with this batch's boxes, their class ids and
    /// validity, instance masks and keypoints, and the labels: ready for `f_forward_batch`
    /// (set `AnnotationOptions::instance_masks` so that a dropped box drops its mask).
    pub fn record(&self, image: Tensor) -> tch_dda::Batch {
        let mut batch = tch_dda::Batch::new(image).with_labels(self.labels.shallow_clone());
        if let Some(o) = &self.objects {
            batch = batch.with_boxes(
                tch_dda::Boxes::xyxy(o.boxes.shallow_clone())
                    .with_valid(o.valid.shallow_clone())
                    .with_class_ids(o.classes.shallow_clone()),
            );
            // A batch without objects has no mask channel to give (N = 0).
            if let Some(m) = o.masks.as_ref().filter(|m| m.size()[1] > 0) {
                batch = batch.with_masks(m.shallow_clone());
            }
            if let Some((p, v)) = &o.keypoints {
                batch = batch.with_keypoints(
                    tch_dda::Keypoints::new(p.shallow_clone()).with_valid(v.shallow_clone()),
                );
            }
        }
        batch
    }
}

/// Where an epoch stands: save it with a checkpoint (it is JSON-serialisable) and pass it to
/// [`Loader::resume`] to continue the same sequence of batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoaderState {
    /// The loader's seed.
    pub seed: u64,
    /// The epoch.
    pub epoch: u64,
    /// The number of the next batch to yield.
    pub next_batch: usize,
    /// The dataset's size, checked on resume.
    pub samples: usize,
    /// The shard, checked on resume.
    pub rank: usize,
    /// The shard count, checked on resume.
    pub world_size: usize,
}

/// What an epoch did (so far).
#[derive(Debug, Clone, Default)]
pub struct EpochSummary {
    /// Images yielded.
    pub images: usize,
    /// Batches yielded (errors included).
    pub batches: usize,
    /// Files left out with [`OnError::Skip`], with the reason.
    pub skipped: Vec<(PathBuf, String)>,
    /// Seconds since the epoch started.
    pub seconds: f64,
}

impl EpochSummary {
    /// Images per second yielded.
    pub fn images_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.images as f64 / self.seconds
        } else {
            0.0
        }
    }
}

impl std::fmt::Display for EpochSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} images in {} batches, {:.1} s, {:.0} images/s",
            self.images,
            self.batches,
            self.seconds,
            self.images_per_second()
        )?;
        if !self.skipped.is_empty() {
            write!(f, ", {} files skipped", self.skipped.len())?;
        }
        Ok(())
    }
}

/// Mixes seeds into one (splitmix64's finaliser over the words): the seed of each batch's
/// crop draws, and [`Loader::generator`]'s.
fn mix(words: &[u64]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    for &w in words {
        let mut z = h ^ w.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        h = z ^ (z >> 31);
    }
    h
}

/// From a [`Dataset`] to batches: a seeded, sharded order, decoded on worker threads.
///
/// ```no_run
/// use tch_dda_data::{Dataset, Loader, LoaderConfig, Resize};
/// # fn main() -> tch_dda_data::Result<()> {
/// let data = Dataset::image_folder("photos/train")?;
/// let loader = Loader::new(data, LoaderConfig {
///     batch_size: 64,
///     resize: Resize::random_resized_crop(224, 224),
///     device: tch::Device::cuda_if_available(),
///     ..Default::default()
/// })?;
/// for epoch in 0..10 {
///     for batch in loader.epoch(epoch)? {
///         let batch = batch?;
///         // batch.images: (64, 3, 224, 224) uint8 on the device; batch.labels: (64,)
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Loader {
    data: Arc<Dataset>,
    config: LoaderConfig,
}

impl Loader {
    /// A loader over `data`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first setting out of its domain; [`Error::Dataset`] for
    /// an empty dataset.
    pub fn new(data: Dataset, config: LoaderConfig) -> Result<Loader> {
        config.check()?;
        if data.is_empty() {
            return Err(Error::Dataset {
                source_name: "Loader::new".into(),
                problem: "the dataset has no image".into(),
            });
        }
        Ok(Loader {
            data: Arc::new(data),
            config,
        })
    }

    /// The dataset.
    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// The settings.
    pub fn config(&self) -> &LoaderConfig {
        &self.config
    }

    /// The dataset indices this rank reads in `epoch`, in order (before batching).
    ///
    /// # Errors
    /// [`Error::Dda`] when the shuffle cannot be drawn.
    pub fn order(&self, epoch: u64) -> Result<Vec<usize>> {
        let n = self.data.len();
        let all: Vec<usize> = if self.config.shuffle {
            let mut g = Generator::new(self.config.seed.wrapping_add(epoch));
            let perm = g.f_randperm(n as i64, Device::Cpu)?;
            Vec::<i64>::try_from(&perm)?
                .into_iter()
                .map(|i| i as usize)
                .collect()
        } else {
            (0..n).collect()
        };
        let (rank, world) = (self.config.rank, self.config.world_size);
        Ok(all.into_iter().skip(rank).step_by(world).collect())
    }

    /// The number of batches this rank yields per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let (n, rank, world) = (self.data.len(), self.config.rank, self.config.world_size);
        let mine = n.saturating_sub(rank).div_ceil(world);
        let b = self.config.batch_size;
        if self.config.drop_last {
            mine / b
        } else {
            mine.div_ceil(b)
        }
    }

    /// A generator for the augmentation of `epoch` on this rank (seeded by the loader's
    /// seed, the rank and the epoch): run the pipeline inside its `scope` so that every rank
    /// draws its own stream and a run restarted at an epoch draws that epoch's again. To
    /// resume mid-epoch, save its `f_state` with the [`LoaderState`].
    pub fn generator(&self, epoch: u64) -> Generator {
        Generator::new(mix(&[
            self.config.seed,
            self.config.rank as u64,
            epoch,
            0x6175_676d,
        ]))
    }

    /// The batches of `epoch`, decoded ahead on the worker threads.
    ///
    /// # Errors
    /// [`Error::Dda`] when the shuffle cannot be drawn.
    pub fn epoch(&self, epoch: u64) -> Result<Epoch> {
        self.start(epoch, 0)
    }

    /// The rest of the epoch `state` was saved in, from its next batch on: the same batches
    /// an uninterrupted run would have yielded.
    ///
    /// # Errors
    /// [`Error::State`] when the state was saved by a loader of another seed, dataset size or
    /// shard, or points past the epoch's end.
    pub fn resume(&self, state: &LoaderState) -> Result<Epoch> {
        let mine = (
            self.config.seed,
            self.data.len(),
            self.config.rank,
            self.config.world_size,
        );
        let theirs = (state.seed, state.samples, state.rank, state.world_size);
        if mine != theirs {
            return Err(Error::State(format!(
                "it was saved with (seed, samples, rank, world_size) = {theirs:?}, this \
                 loader has {mine:?}"
            )));
        }
        if state.next_batch > self.batches_per_epoch() {
            return Err(Error::State(format!(
                "next_batch {} is past the epoch's {} batches",
                state.next_batch,
                self.batches_per_epoch()
            )));
        }
        self.start(state.epoch, state.next_batch)
    }

    fn start(&self, epoch: u64, first: usize) -> Result<Epoch> {
        let order = self.order(epoch)?;
        let total = self.batches_per_epoch();
        let (jobs_tx, jobs_rx) = channel::<Job>();
        let (done_tx, done_rx) = channel::<(usize, Result<Decoded>)>();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let workers = (0..self.config.threads)
            .map(|i| {
                let (rx, tx) = (Arc::clone(&jobs_rx), done_tx.clone());
                let (data, config) = (Arc::clone(&self.data), self.config.clone());
                std::thread::Builder::new()
                    .name(format!("tch-dda-data-{i}"))
                    .spawn(move || worker(&rx, &tx, &data, &config))
                    .map_err(|e| Error::Worker {
                        batch: first,
                        message: format!("cannot start a decode thread: {e}"),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut epoch_iter = Epoch {
            config: self.config.clone(),
            data: Arc::clone(&self.data),
            epoch,
            order,
            total,
            next_yield: first,
            next_dispatch: first,
            ready: BTreeMap::new(),
            jobs: Some(jobs_tx),
            done: done_rx,
            workers,
            summary: EpochSummary::default(),
            started: Instant::now(),
            progress: None,
        };
        epoch_iter.fill()?;
        Ok(epoch_iter)
    }
}

/// One batch to decode: its number, its dataset indices and its crop draws.
struct Job {
    batch: usize,
    indices: Vec<usize>,
    draws: Vec<f32>,
}

/// A decoded batch on the host, with the files left out.
struct Decoded {
    images: Option<Tensor>,
    labels: Vec<i64>,
    indices: Vec<usize>,
    /// Per image: its objects placed in the batch's pixels.
    objects: Vec<Vec<Placed>>,
    /// The batch's (height, width).
    size: (usize, usize),
    skipped: Vec<(PathBuf, String)>,
}

/// An object placed in the batch's pixels.
struct Placed {
    bbox: [f32; 4],
    class: i64,
    valid: bool,
    /// Its mask, height × width, when the dataset has masks.
    mask: Option<Vec<u8>>,
    keypoints: Vec<([f32; 2], bool)>,
}

/// The union of `polygons` (each even-odd filled), mapped by `p`, as a height × width mask:
/// a pixel is inside when its centre is.
fn rasterise(polygons: &[Vec<f32>], p: &decode::Placement) -> Vec<u8> {
    let (w, h) = (p.width as usize, p.height as usize);
    let mut mask = vec![0u8; w * h];
    let mut xs = Vec::new();
    for poly in polygons {
        let pts: Vec<(f64, f64)> = poly
            .chunks_exact(2)
            .map(|c| (f64::from(c[0]) * p.sx + p.tx, f64::from(c[1]) * p.sy + p.ty))
            .collect();
        let (lo, hi) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), q| {
                (lo.min(q.1), hi.max(q.1))
            });
        let first = (lo - 0.5).ceil().max(0.0);
        let last = (hi - 0.5).floor().min(h as f64 - 1.0);
        if first.is_nan() || last.is_nan() || first > last {
            continue;
        }
        for row in first as usize..=last as usize {
            let yc = row as f64 + 0.5;
            xs.clear();
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                if (a.1 <= yc) != (b.1 <= yc) {
                    xs.push(a.0 + (yc - a.1) * (b.0 - a.0) / (b.1 - a.1));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                // Columns whose centre c + 0.5 lies in [x0, x1).
                let c0 = (pair[0] - 0.5).ceil().max(0.0);
                let c1 = ((pair[1] - 0.5).ceil() - 1.0).min(w as f64 - 1.0);
                if c0 <= c1 {
                    mask[row * w + c0 as usize..=row * w + c1 as usize].fill(1);
                }
            }
        }
    }
    mask
}

/// An object placed into the batch: its box clipped to the image (valid when some area is
/// left), its mask, its keypoints (valid when labelled and inside).
fn place_object(o: &crate::Object, p: &decode::Placement, masks: bool) -> Placed {
    let [x1, y1, x2, y2] = o.bbox.map(f64::from);
    let cx = |x: f64| (x * p.sx + p.tx).clamp(0.0, p.width);
    let cy = |y: f64| (y * p.sy + p.ty).clamp(0.0, p.height);
    let b = [cx(x1), cy(y1), cx(x2), cy(y2)];
    let keypoints = o
        .keypoints
        .iter()
        .map(|&[x, y, v]| {
            let (x, y) = (f64::from(x) * p.sx + p.tx, f64::from(y) * p.sy + p.ty);
            let inside = (0.0..p.width).contains(&x) && (0.0..p.height).contains(&y);
            ([x as f32, y as f32], v > 0.0 && inside)
        })
        .collect();
    Placed {
        bbox: b.map(|v| v as f32),
        class: o.class,
        valid: b[2] > b[0] && b[3] > b[1],
        mask: masks.then(|| rasterise(&o.polygons, p)),
        keypoints,
    }
}

/// The objects as padded (B, N, ...) tensors (`k` keypoints per object).
fn objects_tensors(
    per_image: &[Vec<Placed>],
    (h, w): (usize, usize),
    masks: bool,
    k: usize,
) -> Result<Objects> {
    let b = per_image.len();
    let n = per_image.iter().map(Vec::len).max().unwrap_or(0);
    let mut boxes = vec![0f32; b * n * 4];
    let mut classes = vec![-1i64; b * n];
    let mut valid = vec![false; b * n];
    let mut mask = vec![0u8; if masks { b * n * h * w } else { 0 }];
    let mut points = vec![0f32; b * n * k * 2];
    let mut seen = vec![false; b * n * k];
    for (i, objs) in per_image.iter().enumerate() {
        for (j, o) in objs.iter().enumerate() {
            let at = i * n + j;
            boxes[at * 4..(at + 1) * 4].copy_from_slice(&o.bbox);
            classes[at] = o.class;
            valid[at] = o.valid;
            if let Some(m) = &o.mask {
                mask[at * h * w..(at + 1) * h * w].copy_from_slice(m);
            }
            for (q, (pt, v)) in o.keypoints.iter().enumerate() {
                points[(at * k + q) * 2..(at * k + q + 1) * 2].copy_from_slice(pt);
                seen[at * k + q] = *v;
            }
        }
    }
    let (b, n, k) = (b as i64, n as i64, k as i64);
    let masks = if masks {
        Some(Tensor::f_from_slice(&mask)?.f_view([b, n, h as i64, w as i64])?)
    } else {
        None
    };
    let keypoints = if k > 0 {
        Some((
            Tensor::f_from_slice(&points)?.f_view([b, n * k, 2])?,
            Tensor::f_from_slice(&seen)?.f_view([b, n * k])?,
        ))
    } else {
        None
    };
    Ok(Objects {
        boxes: Tensor::f_from_slice(&boxes)?.f_view([b, n, 4])?,
        classes: Tensor::f_from_slice(&classes)?.f_view([b, n])?,
        valid: Tensor::f_from_slice(&valid)?.f_view([b, n])?,
        masks,
        keypoints,
    })
}

fn decode_batch(job: &Job, data: &Dataset, config: &LoaderConfig) -> Result<Decoded> {
    let per = config.resize.draws() as usize;
    let mut images = Vec::with_capacity(job.indices.len());
    let mut out = Decoded {
        images: None,
        labels: Vec::with_capacity(job.indices.len()),
        indices: Vec::with_capacity(job.indices.len()),
        objects: Vec::new(),
        size: (0, 0),
        skipped: Vec::new(),
    };
    let mut first_size: Option<(PathBuf, u32, u32)> = None;
    for (k, &i) in job.indices.iter().enumerate() {
        let sample = &data.samples()[i];
        let decoded = decode::decode_file(&sample.path, config.max_pixels).and_then(|px| {
            if config.resize == Resize::Original {
                match &first_size {
                    Some((p, h, w)) if (*h, *w) != (px.height, px.width) => {
                        return Err(Error::Decode {
                            path: sample.path.clone(),
                            message: format!(
                                "{}x{} pixels where {} in the same batch has {}x{}: \
                                 Resize::Original needs images of one size; use \
                                 Resize::Exact or another resize",
                                px.width,
                                px.height,
                                p.display(),
                                w,
                                h
                            ),
                        })
                    }
                    Some(_) => {}
                    None => first_size = Some((sample.path.clone(), px.height, px.width)),
                }
            }
            decode::prepare(&px, &config.resize, &job.draws[k * per..(k + 1) * per])
        });
        match decoded {
            Ok((x, placement)) => {
                images.push(x);
                out.labels.push(sample.label);
                out.indices.push(i);
                out.size = (placement.height as usize, placement.width as usize);
                if data.is_detection() {
                    let masks = data.has_masks();
                    let objs = sample
                        .objects
                        .iter()
                        .map(|o| place_object(o, &placement, masks));
                    out.objects.push(objs.collect());
                }
            }
            Err(e) if config.on_error == OnError::Skip && !matches!(e, Error::Torch(_)) => {
                out.skipped.push((sample.path.clone(), e.to_string()));
            }
            Err(e) => return Err(e),
        }
    }
    if !images.is_empty() {
        let mut batch = decode::stack(&images)?;
        if config.device.is_cuda() {
            batch = batch.f_pin_memory(config.device)?;
        }
        out.images = Some(batch);
    }
    Ok(out)
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

fn worker(
    jobs: &Mutex<Receiver<Job>>,
    done: &Sender<(usize, Result<Decoded>)>,
    data: &Dataset,
    config: &LoaderConfig,
) {
    loop {
        // A poisoned lock only means another worker panicked while waiting; the receiver
        // itself is intact.
        let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return, // the epoch was dropped
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            decode_batch(&job, data, config)
        }))
        .unwrap_or_else(|p| {
            Err(Error::Worker {
                batch: job.batch,
                message: panic_message(p),
            })
        });
        if done.send((job.batch, result)).is_err() {
            return;
        }
    }
}

/// One epoch's batches, in order: an iterator of `Result<ImageBatch>`. Dropping it stops
/// the workers (after the batches they are decoding).
pub struct Epoch {
    config: LoaderConfig,
    data: Arc<Dataset>,
    epoch: u64,
    order: Vec<usize>,
    total: usize,
    next_yield: usize,
    next_dispatch: usize,
    ready: BTreeMap<usize, Result<Decoded>>,
    jobs: Option<Sender<Job>>,
    done: Receiver<(usize, Result<Decoded>)>,
    workers: Vec<JoinHandle<()>>,
    summary: EpochSummary,
    started: Instant,
    progress: Option<indicatif::ProgressBar>,
}

impl std::fmt::Debug for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Epoch")
            .field("epoch", &self.epoch)
            .field("next_batch", &self.next_yield)
            .field("batches", &self.total)
            .finish()
    }
}

impl Epoch {
    /// The state to save with a checkpoint: [`Loader::resume`] continues from here.
    pub fn state(&self) -> LoaderState {
        LoaderState {
            seed: self.config.seed,
            epoch: self.epoch,
            next_batch: self.next_yield,
            samples: self.data.len(),
            rank: self.config.rank,
            world_size: self.config.world_size,
        }
    }

    /// What the epoch did so far.
    pub fn summary(&self) -> EpochSummary {
        EpochSummary {
            seconds: self.started.elapsed().as_secs_f64(),
            ..self.summary.clone()
        }
    }

    /// With a progress bar on the terminal (batches done, images per second; nothing is
    /// drawn when stderr is not a terminal), which ends with the epoch's summary.
    pub fn with_progress(mut self) -> Epoch {
        let bar = indicatif::ProgressBar::new(self.total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "epoch {prefix} {bar:30} {pos}/{len} batches, {msg} [{elapsed_precise}]",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.set_prefix(self.epoch.to_string());
        bar.set_position(self.next_yield as u64);
        self.progress = Some(bar);
        self
    }

    /// The batches of the epoch (this rank's), the yielded ones included.
    pub fn batches(&self) -> usize {
        self.total
    }

    /// Keeps `prefetch` batches in flight.
    fn fill(&mut self) -> Result<()> {
        let Some(jobs) = &self.jobs else {
            return Ok(());
        };
        while self.next_dispatch < self.total
            && self.next_dispatch - self.next_yield < self.config.prefetch
        {
            let b = self.next_dispatch;
            let bs = self.config.batch_size;
            let indices = self.order[b * bs..((b + 1) * bs).min(self.order.len())].to_vec();
            let per = self.config.resize.draws();
            let draws = if per > 0 {
                // One batched draw per batch, seeded by (seed, epoch, rank, batch): the same
                // whichever thread decodes it and after a resume.
                let mut g = Generator::new(mix(&[
                    self.config.seed,
                    self.epoch,
                    self.config.rank as u64,
                    b as u64,
                ]));
                Vec::<f32>::try_from(&g.f_rand(&[indices.len() as i64 * per], Device::Cpu)?)?
            } else {
                Vec::new()
            };
            let job = Job {
                batch: b,
                indices,
                draws,
            };
            if jobs.send(job).is_err() {
                return Err(Error::Worker {
                    batch: b,
                    message: "every decode thread has stopped".into(),
                });
            }
            self.next_dispatch += 1;
        }
        Ok(())
    }

    fn finish(&mut self, decoded: Result<Decoded>) -> Result<Option<ImageBatch>> {
        self.summary.batches += 1;
        let decoded = decoded?;
        self.summary.skipped.extend(decoded.skipped);
        let Some(images) = decoded.images else {
            return Ok(None); // every file of the batch was skipped
        };
        let device = self.config.device;
        let images = if device == Device::Cpu {
            images
        } else {
            images.f_to_device_(device, Kind::Uint8, true, false)?
        };
        let labels = Tensor::f_from_slice(&decoded.labels)?;
        let labels = if device == Device::Cpu {
            labels
        } else {
            labels.f_to_device_(device, Kind::Int64, true, false)?
        };
        let data = &self.data;
        let objects = if data.is_detection() {
            let (masks, k) = (data.has_masks(), data.keypoints_per_object());
            let o = objects_tensors(&decoded.objects, decoded.size, masks, k)?;
            Some(if device == Device::Cpu {
                o
            } else {
                let to = |t: &Tensor| t.f_to_device_(device, t.kind(), true, false);
                Objects {
                    boxes: to(&o.boxes)?,
                    classes: to(&o.classes)?,
                    valid: to(&o.valid)?,
                    masks: o.masks.as_ref().map(to).transpose()?,
                    keypoints: match &o.keypoints {
                        Some((p, v)) => Some((to(p)?, to(v)?)),
                        None => None,
                    },
                }
            })
        } else {
            None
        };
        self.summary.images += decoded.indices.len();
        Ok(Some(ImageBatch {
            images,
            labels,
            indices: decoded.indices,
            objects,
        }))
    }
}

impl Iterator for Epoch {
    type Item = Result<ImageBatch>;

    /// The batches left; with [`OnError::Skip`] a batch whose every file is skipped yields
    /// nothing, so the lower bound is 0 then.
    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.total - self.next_yield;
        match self.config.on_error {
            OnError::Fail => (left, Some(left)),
            OnError::Skip => (0, Some(left)),
        }
    }

    fn next(&mut self) -> Option<Result<ImageBatch>> {
        let item = self.next_batch();
        if let Some(bar) = &self.progress {
            match &item {
                Some(_) => {
                    bar.set_position(self.next_yield as u64);
                    let s = self.summary();
                    bar.set_message(format!("{:.0} images/s", s.images_per_second()));
                }
                None if !bar.is_finished() => bar.finish_with_message(self.summary().to_string()),
                None => {}
            }
        }
        item
    }
}

impl Epoch {
    fn next_batch(&mut self) -> Option<Result<ImageBatch>> {
        while self.next_yield < self.total {
            let b = self.next_yield;
            if let Some(decoded) = self.ready.remove(&b) {
                self.next_yield += 1;
                if let Err(e) = self.fill() {
                    return Some(Err(e));
                }
                match self.finish(decoded) {
                    Ok(Some(batch)) => return Some(Ok(batch)),
                    Ok(None) => continue,
                    Err(e) => return Some(Err(e)),
                }
            }
            match self.done.recv() {
                Ok((i, r)) => {
                    self.ready.insert(i, r);
                }
                Err(_) => {
                    // Every worker is gone (cannot happen while `jobs` is open, as workers
                    // catch panics): report it rather than wait forever.
                    self.next_yield = self.total;
                    return Some(Err(Error::Worker {
                        batch: b,
                        message: "every decode thread has stopped".into(),
                    }));
                }
            }
        }
        None
    }
}

impl Drop for Epoch {
    fn drop(&mut self) {
        self.jobs = None; // workers see the channel closed after their current batch
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(w: f64, h: f64) -> decode::Placement {
        decode::Placement {
            sx: 1.0,
            sy: 1.0,
            tx: 0.0,
            ty: 0.0,
            width: w,
            height: h,
        }
    }

    /// The shoelace area of a polygon.
    fn area(p: &[f32]) -> f64 {
        let n = p.len() / 2;
        (0..n)
            .map(|i| {
                let j = (i + 1) % n;
                f64::from(p[2 * i]) * f64::from(p[2 * j + 1])
                    - f64::from(p[2 * j]) * f64::from(p[2 * i + 1])
            })
            .sum::<f64>()
            .abs()
            / 2.0
    }

    #[test]
    fn rasterised_polygons_cover_their_area() {
        // Rectilinear polygons with integer corners cover exactly their area in pixel
        // centres: an L shape (concave), and a rectangle partly outside the image.
        let l_shape = vec![2.0, 1.0, 9.0, 1.0, 9.0, 4.0, 5.0, 4.0, 5.0, 11.0, 2.0, 11.0];
        let m = rasterise(std::slice::from_ref(&l_shape), &identity(16.0, 16.0));
        assert_eq!(m.iter().map(|&v| v as f64).sum::<f64>(), area(&l_shape));
        assert_eq!(m[16 + 8], 1); // (x 8, y 1) inside the top bar
        assert_eq!(m[16 * 5 + 8], 0); // (x 8, y 5) in the notch
        let out = vec![-3.0, -2.0, 4.0, -2.0, 4.0, 3.0, -3.0, 3.0];
        let m = rasterise(&[out], &identity(16.0, 16.0));
        assert_eq!(m.iter().filter(|&&v| v == 1).count(), 4 * 3);
        // A triangle: within half its perimeter of its area.
        let tri = vec![1.5, 2.25, 30.75, 9.5, 12.0, 28.0];
        let m = rasterise(std::slice::from_ref(&tri), &identity(32.0, 32.0));
        let covered = m.iter().map(|&v| v as f64).sum::<f64>();
        assert!(
            (covered - area(&tri)).abs() < 40.0,
            "{covered} vs {}",
            area(&tri)
        );
        // Two polygons: their union; a placement scales them.
        let a = vec![0.0, 0.0, 4.0, 0.0, 4.0, 4.0, 0.0, 4.0];
        let b = vec![2.0, 2.0, 6.0, 2.0, 6.0, 6.0, 2.0, 6.0];
        let m = rasterise(&[a.clone(), b], &identity(8.0, 8.0));
        assert_eq!(m.iter().filter(|&&v| v == 1).count(), 16 + 16 - 4);
        let twice = decode::Placement {
            sx: 2.0,
            sy: 2.0,
            tx: 1.0,
            ty: 0.0,
            ..identity(16.0, 16.0)
        };
        let m = rasterise(&[a], &twice);
        assert_eq!(m.iter().filter(|&&v| v == 1).count(), 64);
        assert_eq!(m[0], 0); // column 0 is left of x = 1
        assert_eq!(m[1], 1);
    }
}

#[cfg(test)]
mod worker_tests {
    use super::*;

    /// A job that panics in the worker (an index past the dataset) becomes that batch's
    /// `Error::Worker`, and the same worker goes on with the next job.
    #[test]
    fn a_panicking_batch_is_an_error_and_the_worker_goes_on() {
        let root = std::env::temp_dir().join(format!("tch-dda-data-panic-{}", std::process::id()));
        std::fs::create_dir_all(root.join("a")).unwrap();
        let img = image::RgbImage::from_pixel(6, 5, image::Rgb([9, 8, 7]));
        img.save(root.join("a/0.png")).unwrap();
        let data = Dataset::image_folder(&root).unwrap();
        let config = LoaderConfig {
            resize: Resize::Original,
            ..Default::default()
        };
        let (jobs_tx, jobs_rx) = channel::<Job>();
        let (done_tx, done_rx) = channel();
        let job = |batch, indices: Vec<usize>| Job {
            batch,
            indices,
            draws: Vec::new(),
        };
        jobs_tx.send(job(0, vec![0, 7])).unwrap(); // index 7: past the one image
        jobs_tx.send(job(1, vec![0])).unwrap();
        drop(jobs_tx);
        // The default hook would print the expected panic; keep the output clean.
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        worker(&Mutex::new(jobs_rx), &done_tx, &data, &config);
        std::panic::set_hook(hook);
        let results: Vec<_> = done_rx.try_iter().collect();
        assert_eq!(results.len(), 2);
        match &results[0] {
            (0, Err(Error::Worker { batch: 0, message })) => {
                assert!(message.contains("index out of bounds"), "{message}")
            }
            (b, other) => panic!("batch {b}: {:?}", other.as_ref().err()),
        }
        let (b, ok) = &results[1];
        assert_eq!(*b, 1);
        let decoded = ok.as_ref().unwrap();
        assert_eq!(decoded.images.as_ref().unwrap().size(), [1, 3, 5, 6]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
