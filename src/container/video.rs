//! Kornia's `VideoSequential`: a pipeline over clips (B,T,C,H,W) or (B,C,T,H,W), with one
//! draw per clip shared by its frames (`same_on_frame`, the default) or one draw per frame.
//!
//! The frames are flattened into a batch of images (B·T,C,H,W) and go through a
//! [`Sequential`], with params drawn as Kornia's `VideoSequential.forward_parameters`
//! draws them: per clip, then repeated over the frames. The params are therefore those of
//! the [`Sequential`] for the flattened frames (as Kornia's `_params` are), so they replay
//! through it, invert, and import from Kornia ([`Params::from_kornia`]) unchanged.

use super::kornia_args as args;
use super::{Sequential, SequentialConfig};
use crate::annotations::{Batch, Boxes, Keypoints};
use crate::augmentation::{batched, forward_batch_drawn, AugmentationExt, RoleKind, Step};
use crate::{Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

const VIDEO: &str = "VideoSequential";

/// Where the time axis of a clip is (Kornia's `data_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum VideoFormat {
    /// (B,T,C,H,W): frames of channels (Kornia's default).
    #[default]
    #[serde(rename = "BTCHW")]
    Btchw,
    /// (B,C,T,H,W): channels of frames, as video networks (3D convolutions) take them.
    #[serde(rename = "BCTHW")]
    Bcthw,
}

impl VideoFormat {
    fn words(self) -> &'static str {
        match self {
            VideoFormat::Btchw => "5 (B,T,C,H,W), data_format BTCHW",
            VideoFormat::Bcthw => "5 (B,C,T,H,W), data_format BCTHW",
        }
    }
}

fn yes() -> bool {
    true
}

/// Configuration of a [`VideoSequential`]: the pipeline its frames go through, the layout
/// of its clips, and whether a clip's frames share one draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoConfig {
    /// The steps (and a [`super::RandomApply`] selection) each frame goes through.
    pub pipeline: SequentialConfig,
    /// Where the time axis is.
    #[serde(default)]
    pub data_format: VideoFormat,
    /// One draw per clip, the same for all its frames (the default, as Kornia); `false`:
    /// one draw per frame.
    #[serde(default = "yes")]
    pub same_on_frame: bool,
}

impl VideoConfig {
    /// `pipeline` over (B,T,C,H,W) clips, one draw per clip.
    pub fn new(pipeline: impl Into<SequentialConfig>) -> VideoConfig {
        VideoConfig {
            pipeline: pipeline.into(),
            data_format: VideoFormat::Btchw,
            same_on_frame: true,
        }
    }

    /// With the time axis where `format` puts it.
    pub fn data_format(self, format: VideoFormat) -> VideoConfig {
        VideoConfig {
            data_format: format,
            ..self
        }
    }

    /// With one draw per clip (`true`) or per frame (`false`).
    pub fn same_on_frame(self, same: bool) -> VideoConfig {
        VideoConfig {
            same_on_frame: same,
            ..self
        }
    }

    /// The config of Kornia 0.9's `VideoSequential(**kwargs)`: its steps as `steps`
    /// (`[[class, kwargs], ...]`), `data_format` ("BTCHW" or "BCTHW", any case),
    /// `same_on_frame`, `random_apply`, `random_apply_weights` and `if_unsupported_ops`
    /// ("raise"). Boxes and keypoints then follow Kornia's box mode
    /// ([`crate::AnnotationOptions::kornia`]), as a `VideoSequential` inside Kornia's
    /// `AugmentationSequential` carries them.
    ///
    /// # Errors
    /// [`Error::Config`] for an argument Kornia's `VideoSequential` does not take (naming
    /// the ones it does) or a value of the wrong form; a step's translation error.
    pub fn from_kornia(kwargs: &Value) -> Result<VideoConfig> {
        const ARGS: [&str; 6] = [
            "steps",
            "data_format",
            "same_on_frame",
            "random_apply",
            "random_apply_weights",
            "if_unsupported_ops",
        ];
        let mut map = args::kwargs(VIDEO, kwargs, &ARGS)?;
        let data_format = match map.remove("data_format") {
            None | Some(Value::Null) => VideoFormat::Btchw,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("BTCHW") => VideoFormat::Btchw,
            Some(Value::String(s)) if s.eq_ignore_ascii_case("BCTHW") => VideoFormat::Bcthw,
            Some(v) => {
                return Err(args::bad(
                    VIDEO,
                    "data_format",
                    &v,
                    "\"BTCHW\" or \"BCTHW\" (any case)",
                ))
            }
        };
        let same_on_frame = args::flag(VIDEO, &mut map, "same_on_frame", true)?;
        // The rest is Kornia's ImageSequential, which VideoSequential extends.
        let mut pipeline = args::image_sequential(map)?;
        pipeline.annotations = crate::AnnotationOptions::kornia();
        Ok(VideoConfig {
            pipeline,
            data_format,
            same_on_frame,
        })
    }

    /// [`VideoConfig::from_kornia`] of a call written as in Python:
    /// `K.VideoSequential(K.ColorJiggle(0.1, 0.1, 0.1, 0.1, p=1.0), K.RandomAffine(360),
    /// data_format="BCTHW", same_on_frame=True)`, read as [`crate::AugSpec::from_kornia_python`]
    /// reads calls.
    ///
    /// # Errors
    /// As [`crate::AugSpec::from_kornia_python`] for the source; [`Error::Config`] for a call of
    /// another class; then as [`VideoConfig::from_kornia`].
    pub fn from_kornia_python(source: &str) -> Result<VideoConfig> {
        VideoConfig::from_kornia(&args::python(VIDEO, source)?)
    }
}

impl From<SequentialConfig> for VideoConfig {
    fn from(pipeline: SequentialConfig) -> VideoConfig {
        VideoConfig::new(pipeline)
    }
}

/// Kornia's `VideoSequential`: a [`Sequential`] applied to every frame of a batch of clips,
/// with one draw per clip shared by its frames (`same_on_frame`, the default) or one per
/// frame.
///
/// Params are drawn as Kornia draws them: for each applied step, per clip (one draw for the
/// whole batch with the step's `same_on_batch`), then repeated over the frames; with
/// `same_on_frame = false`, per frame (one draw per frame index with `same_on_batch`),
/// and nested containers (presets, a [`Sequential`]) draw per frame, as Kornia requires. The
/// same seed draws Kornia's params. The params are the inner [`Sequential`]'s for the
/// flattened frames (B·T,C,H,W), `"{i}.{key}"`, as Kornia's `_params` are, plus Kornia's
/// `video_batch_size` (B) beside each step's `forward_input_shape` (which records the
/// frames' shape); Kornia's params import with [`Params::from_kornia`].
///
/// Masks (in the clips' layout), boxes (B,T,N,4) and keypoints (B,T,N,2) move with the
/// frames ([`VideoSequential::f_forward_batch`]); labels (B,) stay with their clips. Mixing
/// steps (MixUp, CutMix, PatchMix) are refused: their pairs and labels would be per frame.
///
/// # Example
/// ```
/// use tch_dda::{AugSpec, FlipConfig, VideoConfig, VideoSequential};
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let cfg = VideoConfig::new(vec![AugSpec::RandomHorizontalFlip(FlipConfig::default())]);
/// let video = VideoSequential::new(vs.root() / "video", cfg)?;
/// let clips = tch::Tensor::rand([2, 4, 3, 8, 8], tch::kind::FLOAT_CPU); // (B,T,C,H,W)
/// let (out, params) = video.f_forward_with_params(&clips)?;
/// assert_eq!(out.size(), [2, 4, 3, 8, 8]);
/// assert_eq!(params.get("0.batch_prob").unwrap().size(), [8]); // one gate per frame
/// # Ok::<(), tch_dda::Error>(())
/// ```
#[derive(Debug)]
pub struct VideoSequential {
    pipeline: Sequential,
    data_format: VideoFormat,
    same_on_frame: bool,
    /// What each step's spec says of its params (read once), by step index.
    keys: Vec<StepKeys>,
}

/// A step's draw as a video container treats it, from its spec.
#[derive(Debug, Clone, Copy)]
struct StepKeys {
    /// The step's own `same_on_batch`.
    same_on_batch: bool,
    /// Params that index the batch ([`crate::AugSpec::batch_index_keys`]).
    batch_index: &'static [&'static str],
    /// Params drawn once for any batch ([`crate::AugSpec::batch_wide_keys`]).
    batch_wide: &'static [&'static str],
}

/// A clip shape's sizes: `b` clips of `t` frames; `frames` the flattened (B·T,C,H,W).
struct Clips {
    b: i64,
    t: i64,
    frames: Vec<i64>,
}

impl VideoSequential {
    /// Builds the pipeline under `path` (its steps under `path / i`, as a [`Sequential`]).
    ///
    /// # Errors
    /// As [`Sequential::new`]; then as [`VideoSequential::from_pipeline`].
    pub fn new<'p, P: Borrow<nn::Path<'p>>>(
        path: P,
        cfg: impl Into<VideoConfig>,
    ) -> Result<VideoSequential> {
        let cfg = cfg.into();
        let pipeline = Sequential::new(path, cfg.pipeline)?;
        VideoSequential::from_pipeline(pipeline, cfg.data_format, cfg.same_on_frame)
    }

    /// The clips' version of an already built `pipeline`.
    ///
    /// # Errors
    /// [`Error::Config`] for a pipeline of volumes, a mixing step, or (with
    /// `same_on_frame`) a nested container, which Kornia refuses too.
    pub fn from_pipeline(
        pipeline: Sequential,
        data_format: VideoFormat,
        same_on_frame: bool,
    ) -> Result<VideoSequential> {
        let refuse = |value: String, allowed: &str| {
            Err(crate::checks::config(VIDEO, "steps", value, allowed))
        };
        if pipeline.spatial_dims() != 2 {
            return refuse(
                format!("steps for volumes ({}D)", pipeline.spatial_dims()),
                "steps that take images: each frame is an image",
            );
        }
        for step in pipeline.steps() {
            if step.as_mix().is_some() {
                return refuse(
                    step.name().to_string(),
                    "steps that do not mix samples: a mixing step would pair and label frames",
                );
            }
            if same_on_frame && matches!(step.role().0, RoleKind::Container(_)) {
                return refuse(
                    format!("{} (a container) with same_on_frame", step.name()),
                    "operators only with same_on_frame = true (as Kornia); nested containers \
                     with same_on_frame = false",
                );
            }
        }
        let keys = pipeline
            .steps()
            .iter()
            .map(|s| {
                let spec = s.spec();
                StepKeys {
                    same_on_batch: spec.same_on_batch(),
                    batch_index: spec.batch_index_keys(),
                    batch_wide: spec.batch_wide_keys(),
                }
            })
            .collect();
        Ok(VideoSequential {
            pipeline,
            data_format,
            same_on_frame,
            keys,
        })
    }

    /// Rebuilds a video pipeline from [`VideoSequential::to_json`]'s output.
    ///
    /// # Errors
    /// [`Error::Json`] for malformed JSON; as [`VideoSequential::new`].
    pub fn from_json<'p, P: Borrow<nn::Path<'p>>>(path: P, json: &str) -> Result<VideoSequential> {
        let cfg: VideoConfig = serde_json::from_str(json)?;
        VideoSequential::new(path, cfg)
    }

    /// The structure as JSON: `{"pipeline": ..., "data_format": ..., "same_on_frame": ...}`.
    ///
    /// # Errors
    /// [`Error::Json`] (not expected for these types).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(&self.config())?)
    }

    /// The configuration, with the steps' current specs.
    pub fn config(&self) -> VideoConfig {
        VideoConfig {
            pipeline: self.pipeline.config(),
            data_format: self.data_format,
            same_on_frame: self.same_on_frame,
        }
    }

    /// The pipeline every frame goes through (its ranges are this container's: save and
    /// load them with [`AugmentationExt::f_save_state`] and [`AugmentationExt::f_load_state`],
    /// or with the `VarStore`).
    pub fn pipeline(&self) -> &Sequential {
        &self.pipeline
    }

    /// Draws params for clips of shape `input_shape` (5-D, in the data format).
    ///
    /// # Errors
    /// [`Error::Rank`], [`Error::Empty`] or [`Error::TooLarge`] for the shape; as
    /// [`AugmentationExt::f_sample`] for its frames.
    pub fn f_sample(&self, input_shape: &[i64], device: Device) -> Result<Params> {
        let c = self.clips(input_shape)?;
        self.pipeline.check_shape(&c.frames)?;
        self.draw(&c, device)
    }

    /// Validates `input` (5-D clips), draws params, and applies them to every frame.
    ///
    /// # Errors
    /// [`Error::Rank`] for an input that is not 5-D; otherwise as
    /// [`AugmentationExt::f_forward_with_params`] for its frames.
    pub fn f_forward_with_params(&self, input: &Tensor) -> Result<(Tensor, Params)> {
        let c = self.clips(&input.size())?;
        let frames = batched(&self.pipeline, &self.to_frames(input, &c, "input")?)?.x;
        let params = self.draw(&c, frames.device())?;
        let out = self.pipeline.gated_apply(&frames, &params)?;
        Ok((self.to_clips(&out, &c)?, params))
    }

    /// [`VideoSequential::f_forward_with_params`], the output only.
    ///
    /// # Errors
    /// As [`VideoSequential::f_forward_with_params`].
    pub fn f_forward(&self, input: &Tensor) -> Result<Tensor> {
        Ok(self.f_forward_with_params(input)?.0)
    }

    /// The evaluation forward: the pipeline's deterministic steps on every frame
    /// ([`AugmentationExt::f_forward_eval`]), the random ones skipped.
    ///
    /// # Errors
    /// As [`VideoSequential::f_forward`].
    pub fn f_forward_eval(&self, input: &Tensor) -> Result<Tensor> {
        let c = self.clips(&input.size())?;
        let out = self
            .pipeline
            .f_forward_eval(&self.to_frames(input, &c, "input")?)?;
        self.to_clips(&out, &c)
    }

    /// Replays `params` (from a forward pass, or Kornia's imported) on `input`.
    ///
    /// # Errors
    /// As [`AugmentationExt::f_apply`] for the frames and the params.
    pub fn f_apply(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
        let c = self.clips(&input.size())?;
        let params = self.frames_params(params, &c)?;
        let out = self
            .pipeline
            .f_apply(&self.to_frames(input, &c, "input")?, &params)?;
        self.to_clips(&out, &c)
    }

    /// Maps augmented clips back to the geometry of clips of shape `input_shape` (as
    /// [`AugmentationExt::f_inverse`] does for images, frame by frame).
    ///
    /// # Errors
    /// [`Error::Rank`] for a shape or an output that is not 5-D, [`Error::Params`] for an
    /// output of other clips than `input_shape`; as [`AugmentationExt::f_inverse`].
    pub fn f_inverse(
        &self,
        output: &Tensor,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Tensor> {
        let c = self.clips(input_shape)?;
        let frames = self.output_frames(output, &c, input_shape)?;
        let params = self.frames_params(params, &c)?;
        let out = self.pipeline.f_inverse(&frames, &params, &c.frames)?;
        self.to_clips(&out, &c)
    }

    /// Draws params and applies them to clips with their annotations: masks in the clips'
    /// layout, boxes (B,T,N,4) (`valid`, `class_ids` (B,T,N)),
    /// keypoints (B,T,N,2); labels (B,) come back as given.
    ///
    /// # Errors
    /// [`Error::Annotation`] for an annotation of other clips; as
    /// [`AugmentationExt::f_forward_batch`] for the frames.
    pub fn f_forward_batch(&self, batch: &Batch) -> Result<(Batch, Params)> {
        let c = self.clips(&batch.image.size())?;
        let (frames, labels) = self.frames_batch(batch, &c)?;
        let (out, params) = forward_batch_drawn(&self.pipeline, &frames, &mut |_, device| {
            self.draw(&c, device)
        })?;
        Ok((self.clips_batch(out, &c, labels)?, params))
    }

    /// Replays `params` on clips with their annotations.
    ///
    /// # Errors
    /// As [`VideoSequential::f_forward_batch`] and [`AugmentationExt::f_apply_batch`].
    pub fn f_apply_batch(&self, batch: &Batch, params: &Params) -> Result<Batch> {
        let c = self.clips(&batch.image.size())?;
        let (frames, labels) = self.frames_batch(batch, &c)?;
        let params = self.frames_params(params, &c)?;
        let out = self.pipeline.f_apply_batch(&frames, &params)?;
        self.clips_batch(out, &c, labels)
    }

    /// Maps augmented clips and their annotations back to clips of shape `input_shape`.
    ///
    /// # Errors
    /// As [`VideoSequential::f_inverse`] and [`AugmentationExt::f_inverse_batch`].
    pub fn f_inverse_batch(
        &self,
        output: &Batch,
        params: &Params,
        input_shape: &[i64],
    ) -> Result<Batch> {
        let c = self.clips(input_shape)?;
        let out = self.clips(&output.image.size())?;
        if (out.b, out.t) != (c.b, c.t) {
            return Err(self.other_clips(&output.image.size(), input_shape));
        }
        let (frames, labels) = self.frames_batch(output, &c)?;
        let params = self.frames_params(params, &c)?;
        let back = self.pipeline.f_inverse_batch(&frames, &params, &c.frames)?;
        self.clips_batch(back, &c, labels)
    }

    /// The sizes of clips of shape `shape`.
    fn clips(&self, shape: &[i64]) -> Result<Clips> {
        if shape.len() != 5 {
            return Err(Error::Rank {
                op: VIDEO,
                expected: self.data_format.words(),
                shape: shape.to_vec(),
            });
        }
        if shape.iter().any(|&s| s < 1) {
            return Err(Error::Empty {
                op: VIDEO,
                shape: shape.to_vec(),
            });
        }
        crate::checks::fits(VIDEO, "input_shape", shape)?;
        let (b, t, ch) = match self.data_format {
            VideoFormat::Btchw => (shape[0], shape[1], shape[2]),
            VideoFormat::Bcthw => (shape[0], shape[2], shape[1]),
        };
        // b·t is at most the element count, which `fits` bounds.
        Ok(Clips {
            b,
            t,
            frames: vec![b * t, ch, shape[3], shape[4]],
        })
    }

    fn other_clips(&self, output: &[i64], input_shape: &[i64]) -> Error {
        Error::Params {
            op: VIDEO,
            key: "input_shape".into(),
            problem: format!(
                "{input_shape:?} has other clips (batch or frames) than the output {output:?}"
            ),
        }
    }

    /// `x`, 5-D in the data format with `c`'s clips, as frames (B·T, ...).
    fn to_frames(&self, x: &Tensor, c: &Clips, what: &'static str) -> Result<Tensor> {
        let s = x.size();
        let (b, t) = match (self.data_format, s.len()) {
            (_, n) if n != 5 => (-1, -1),
            (VideoFormat::Btchw, _) => (s[0], s[1]),
            (VideoFormat::Bcthw, _) => (s[0], s[2]),
        };
        if (b, t) != (c.b, c.t) {
            return Err(Error::Annotation {
                op: VIDEO,
                what,
                problem: format!(
                    "has shape {s:?}; expected {} with {} clips of {} frames",
                    self.data_format.words(),
                    c.b,
                    c.t
                ),
            });
        }
        let x = match self.data_format {
            VideoFormat::Btchw => x.shallow_clone(),
            VideoFormat::Bcthw => x.f_transpose(1, 2)?,
        };
        let rest = x.size()[2..].to_vec();
        Ok(x.f_reshape([&[c.b * c.t][..], &rest].concat())?)
    }

    /// Frames (B·T, ...) back to `c`'s clips in the data format.
    fn to_clips(&self, x: &Tensor, c: &Clips) -> Result<Tensor> {
        let rest = x.size()[1..].to_vec();
        let x = x.f_reshape([&[c.b, c.t][..], &rest].concat())?;
        Ok(match self.data_format {
            VideoFormat::Btchw => x,
            VideoFormat::Bcthw => x.f_transpose(1, 2)?,
        })
    }

    /// An output to invert, as frames: the same clips as those of `input_shape` (`c`).
    fn output_frames(&self, output: &Tensor, c: &Clips, input_shape: &[i64]) -> Result<Tensor> {
        let o = self.clips(&output.size())?;
        if (o.b, o.t) != (c.b, c.t) {
            return Err(self.other_clips(&output.size(), input_shape));
        }
        self.to_frames(output, c, "output")
    }

    /// One draw for `c`'s clips: the pipeline's selection and steps, each step's params
    /// drawn per clip (or per frame) and repeated over the frames as Kornia's
    /// `VideoSequential.forward_parameters` repeats them.
    fn draw(&self, c: &Clips, device: Device) -> Result<Params> {
        self.pipeline
            .sample_steps(&c.frames, &mut |i, step, shape| {
                self.draw_step(step, self.keys[i], shape, c, device)
            })
    }

    fn draw_step(
        &self,
        step: &dyn Augmentation,
        keys: StepKeys,
        shape: &[i64],
        c: &Clips,
        device: Device,
    ) -> Result<Params> {
        if matches!(step.role().0, RoleKind::Container(_)) {
            // Only without same_on_frame (checked at construction): one draw per frame.
            let mut p = step.sample(shape, device)?;
            let records: Vec<String> = p
                .keys()
                .filter_map(|k| k.strip_suffix("forward_input_shape").map(String::from))
                .collect();
            for prefix in records {
                p.insert(format!("{prefix}video_batch_size"), Tensor::from(c.b));
            }
            return Ok(p);
        }
        let same_on_batch = keys.same_on_batch;
        // Kornia's draw sizes: per clip, one for all, one per frame index, one per frame.
        let n = match (self.same_on_frame, same_on_batch) {
            (true, true) => 1,
            (true, false) => c.b,
            (false, true) => c.t,
            (false, false) => c.b * c.t,
        };
        let drawn = step.sample(&[&[n][..], &shape[1..]].concat(), device)?;
        let mut p = Params::new();
        for (key, v) in drawn.iter() {
            let kept = keys.batch_wide.contains(&key);
            let v = if key == "forward_input_shape" {
                self.frames_record(v, c)?
            } else if kept || v.dim() == 0 || v.numel() == 0 {
                v.shallow_clone()
            } else {
                self.repeat_over_frames(v, c, same_on_batch)?
            };
            // Values that index the batch (RandomMosaic's tiles), drawn per clip, name clips;
            // frame t of a clip takes frame t of the clips they name (Kornia's
            // `_batch_index_param`).
            let v = if self.same_on_frame && keys.batch_index.contains(&key) {
                let frame = Tensor::f_arange(c.b * c.t, (Kind::Int64, v.device()))?
                    .f_remainder(c.t)?
                    .f_view([-1, 1])?;
                v * c.t + frame
            } else {
                v
            };
            p.insert(key, v);
        }
        if drawn.get("forward_input_shape").is_some() {
            p.insert("video_batch_size", Tensor::from(c.b));
        }
        Ok(p)
    }

    /// Kornia's `__broadcast_param__`: a value drawn per clip (or once, or per frame index)
    /// as one per frame, frame `t` of clip `b` at `b·T + t`.
    fn repeat_over_frames(&self, v: &Tensor, c: &Clips, same_on_batch: bool) -> Result<Tensor> {
        let ones = vec![1i64; v.dim() - 1];
        let rest = v.size()[1..].to_vec();
        Ok(match (self.same_on_frame, same_on_batch) {
            (true, true) => v.f_repeat([&[c.b * c.t][..], &ones].concat())?,
            (true, false) => v.f_repeat_interleave_self_int(c.t, Some(0), None)?,
            (false, true) => v
                .f_unsqueeze(1)?
                .f_repeat([&[1, c.b][..], &ones].concat())?
                .f_reshape([&[-1][..], &rest].concat())?,
            (false, false) => v.shallow_clone(),
        })
    }

    /// A step's `forward_input_shape` as the frames' record: the batch is B·T (Kornia keeps
    /// the size it drew for).
    fn frames_record(&self, v: &Tensor, c: &Clips) -> Result<Tensor> {
        if v.dim() != 1 || v.size()[0] < 1 || v.kind() != Kind::Int64 {
            return Ok(v.shallow_clone());
        }
        let batch = Tensor::from_slice(&[c.b * c.t]).to_device(v.device());
        Ok(Tensor::f_cat(
            &[batch, v.f_narrow(0, 1, v.size()[0] - 1)?],
            0,
        )?)
    }

    /// Replayed params (own or Kornia's) with every `forward_input_shape` recording the
    /// frames' batch, so that the pipeline's checks see the frames they replay on.
    fn frames_params(&self, params: &Params, c: &Clips) -> Result<Params> {
        let mut out = params.clone();
        for (key, v) in params.iter() {
            if key == "forward_input_shape" || key.ends_with(".forward_input_shape") {
                out.insert(key, self.frames_record(v, c)?);
            }
        }
        Ok(out)
    }

    /// A batch of clips as a batch of frames, and the clips' labels (set aside).
    fn frames_batch(&self, batch: &Batch, c: &Clips) -> Result<(Batch, Option<Tensor>)> {
        let lead = |t: &Tensor, what: &'static str| -> Result<Tensor> {
            let s = t.size();
            if s.len() < 3 || s[0] != c.b || s[1] != c.t {
                return Err(Error::Annotation {
                    op: VIDEO,
                    what,
                    problem: format!(
                        "has shape {s:?}; expected ({}, {}, ...): clips, then frames",
                        c.b, c.t
                    ),
                });
            }
            Ok(t.f_reshape([&[c.b * c.t][..], &s[2..]].concat())?)
        };
        let opt = |t: &Option<Tensor>, what| t.as_ref().map(|t| lead(t, what)).transpose();
        let boxes = match &batch.boxes {
            Some(bx) => Some(Boxes {
                data: lead(&bx.data, "boxes")?,
                format: bx.format,
                valid: opt(&bx.valid, "boxes")?,
                class_ids: opt(&bx.class_ids, "class_ids")?,
                visibility: opt(&bx.visibility, "boxes")?,
                corners: opt(&bx.corners, "boxes")?,
            }),
            None => None,
        };
        let keypoints = match &batch.keypoints {
            Some(k) => Some(Keypoints {
                points: lead(&k.points, "keypoints")?,
                valid: opt(&k.valid, "keypoints")?,
            }),
            None => None,
        };
        let frames = Batch {
            image: self.to_frames(&batch.image, c, "image")?,
            masks: match &batch.masks {
                Some(m) => Some(self.to_frames(m, c, "mask")?),
                None => None,
            },
            boxes,
            keypoints,
            labels: None,
            mixed: None,
        };
        Ok((frames, batch.labels.as_ref().map(|l| l.shallow_clone())))
    }

    /// A batch of frames back as `c`'s clips, with the clips' labels.
    fn clips_batch(&self, frames: Batch, c: &Clips, labels: Option<Tensor>) -> Result<Batch> {
        let lead = |t: &Tensor| -> Result<Tensor> {
            let s = t.size();
            Ok(t.f_reshape([&[c.b, c.t][..], &s[1..]].concat())?)
        };
        let opt = |t: &Option<Tensor>| t.as_ref().map(lead).transpose();
        let boxes = match frames.boxes {
            Some(bx) => Some(Boxes {
                data: lead(&bx.data)?,
                format: bx.format,
                valid: opt(&bx.valid)?,
                class_ids: opt(&bx.class_ids)?,
                visibility: opt(&bx.visibility)?,
                corners: opt(&bx.corners)?,
            }),
            None => None,
        };
        let keypoints = match frames.keypoints {
            Some(k) => Some(Keypoints {
                points: lead(&k.points)?,
                valid: opt(&k.valid)?,
            }),
            None => None,
        };
        Ok(Batch {
            image: self.to_clips(&frames.image, c)?,
            masks: match &frames.masks {
                Some(m) => Some(self.to_clips(m, c)?),
                None => None,
            },
            boxes,
            keypoints,
            labels,
            mixed: None,
        })
    }
}

args::impl_layers!(VideoSequential);
