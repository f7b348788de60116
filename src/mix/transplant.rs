//! RandomTransplantation and RandomTransplantation3D (Kornia's): the pixels of one object
//! of a label mask copied, with the mask, from the previous image of the batch.

use crate::annotations::Record;
use crate::augmentation::{impl_module, MaskDriven, Role};
use crate::checks;
use crate::kornia::kwargs::{set, FromKornia, Kwargs};
use crate::range::gate;
use crate::{AugSpec, Augmentation, Error, Params, Result};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use tch::{nn, Device, Kind, Tensor};

/// Configuration of [`RandomTransplantation`] and [`RandomTransplantation3D`]; `Default`
/// is Kornia's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransplantConfig {
    /// Labels never transplanted (a background or unannotated label, say).
    pub excluded_labels: Vec<i64>,
    /// Probability that an image receives a transplant (per image).
    pub p: f64,
    /// Probability of transplanting in the batch at all (one draw per call).
    pub p_batch: f64,
}

impl Default for TransplantConfig {
    fn default() -> Self {
        TransplantConfig {
            excluded_labels: Vec::new(),
            p: 0.5,
            p_batch: 1.0,
        }
    }
}

/// The selection (B, *spatial) bool, one row per image of the batch, and each image's
/// donor (B,) int64, from params that hold a selection: Kornia's (`selection` for the
/// acceptors only, with `acceptor_indices` and `donor_indices`) or a completed draw
/// (`selection` for every image; the donor of image `i` is `i - 1`, cyclically).
fn selection(
    op: &'static str,
    params: &Params,
    shape: &[i64],
    device: Device,
) -> Result<(Tensor, Tensor)> {
    let b = shape[0];
    let spatial = &shape[2..];
    let previous = Tensor::f_arange(b, (Kind::Int64, device))?.f_roll([1], [0])?;
    let Some(sel) = params.get("selection") else {
        // No mask: each image is one object (Kornia's (B,) mask), so an acceptor receives
        // the whole previous image.
        let mut view = vec![1i64; shape.len() - 1];
        view[0] = b;
        let on = params
            .shaped(op, "batch_prob", &[b])?
            .to_device(device)
            .f_gt(0.5)?
            .f_view(view.as_slice())?
            .f_expand([&[b][..], spatial].concat(), false)?;
        return Ok((on, previous));
    };
    let sel = sel.to_device(device).f_ne(0)?;
    match params.get("acceptor_indices") {
        None => {
            params.shaped(op, "selection", &[&[b][..], spatial].concat())?;
            Ok((sel, previous))
        }
        Some(acc) => {
            let n = acc.size().first().copied().unwrap_or(-1);
            if acc.dim() != 1 {
                return Err(Error::Params {
                    op,
                    key: "acceptor_indices".into(),
                    problem: format!("has shape {:?}; expected (n,)", acc.size()),
                });
            }
            params.shaped(op, "selection", &[&[n][..], spatial].concat())?;
            let donors = params.shaped(op, "donor_indices", &[n])?;
            let acc = acc.to_device(device).to_kind(Kind::Int64);
            let donors = donors.to_device(device).to_kind(Kind::Int64);
            // Indices outside the batch would read out of bounds (a device-side assert on a
            // GPU): refused where they can be read without waiting (on the CPU).
            if device == Device::Cpu && n > 0 {
                let all = Tensor::f_cat(&[&acc, &donors], 0)?;
                let (lo, hi) = (i64::try_from(all.min())?, i64::try_from(all.max())?);
                if lo < 0 || hi >= b {
                    return Err(Error::Params {
                        op,
                        key: "acceptor_indices".into(),
                        problem: format!("with donor_indices, holds {lo}..={hi}; expected 0..{b}"),
                    });
                }
            }
            let full = Tensor::f_zeros([&[b][..], spatial].concat(), (Kind::Bool, device))?
                .f_index_put(&[Some(&acc)], &sel, false)?;
            let donors = previous.f_index_put(&[Some(&acc)], &donors, false)?;
            Ok((full, donors))
        }
    }
}

/// `x` (B, C, *spatial) with each image's selected pixels taken from its donor.
fn transplant(op: &'static str, x: &Tensor, params: &Params) -> Result<Tensor> {
    let (sel, donors) = selection(op, params, &x.size(), x.device())?;
    let donor = x.f_index_select(0, &donors)?;
    Ok(donor.where_self(&sel.f_unsqueeze(1)?, x))
}

/// The draw completed from the record's label mask (channel 0 of its masks): for each
/// acceptor (its gate on), one label of its donor's, uniformly among the donor's labels
/// outside `excluded` (the `label_choice`-th in sorted order), and the donor's pixels of
/// that label as the selection. All batched; nothing is read back.
fn complete(op: &'static str, excluded: &[i64], w: &Record, params: &Params) -> Result<Params> {
    if params.get("selection").is_some() {
        return Ok(params.clone());
    }
    if w.has_points() {
        return Err(Error::Annotation {
            op,
            what: "boxes and keypoints",
            problem: "cannot go through a transplant (an object moves between images; Kornia \
                      takes images and masks only)"
                .into(),
        });
    }
    let Some(masks) = w.masks.as_ref() else {
        // Images alone: whole images move (see `selection`).
        return Ok(params.clone());
    };
    let shape = masks.size();
    let (b, device) = (shape[0], masks.device());
    let driver = masks.f_select(1, 0)?.f_flatten(1, -1)?;
    let donor = driver.f_roll([1], [0])?;
    let (sorted, _) = donor.f_sort(1, false)?;
    let s = sorted.size()[1];
    let new_value = sorted
        .f_narrow(1, 1, s - 1)?
        .f_ne_tensor(&sorted.f_narrow(1, 0, s - 1)?)?;
    let first = Tensor::f_ones([b, 1], (Kind::Bool, device))?;
    let distinct = Tensor::f_cat(&[first, new_value], 1)?;
    let eligible = if excluded.is_empty() {
        distinct
    } else {
        let ex = Tensor::from_slice(excluded)
            .to_kind(sorted.kind())
            .to_device(device);
        distinct.f_logical_and(&Tensor::f_isin(&sorted, &ex, false, true)?)?
    };
    let count = eligible.f_sum_dim_intlist(Some(&[1i64][..]), false, Kind::Int64)?;
    let u = params
        .shaped(op, "label_choice", &[b])?
        .to_device(device)
        .to_kind(Kind::Double);
    let k = (u * count.to_kind(Kind::Double))
        .f_floor()?
        .to_kind(Kind::Int64)
        .f_minimum(&(&count - 1).f_clamp_min(0)?)?;
    let rank = eligible.f_cumsum(1, Kind::Int64)? - 1;
    let pick = eligible.f_logical_and(&rank.f_eq_tensor(&k.f_unsqueeze(1)?)?)?;
    let label = sorted.f_where_scalarother(&pick, 0.0)?.f_sum_dim_intlist(
        Some(&[1i64][..]),
        false,
        sorted.kind(),
    )?;
    let on = params
        .shaped(op, "batch_prob", &[b])?
        .to_device(device)
        .f_gt(0.5)?
        .f_logical_and(&count.f_gt(0)?)?;
    let sel = donor
        .f_eq_tensor(&label.f_unsqueeze(1)?)?
        .f_logical_and(&on.f_unsqueeze(1)?)?
        .f_reshape([&[b][..], &shape[2..]].concat())?;
    let mut out = params.clone();
    out.insert("selection", sel);
    out.insert("selected_labels", label);
    Ok(out)
}

macro_rules! transplantation {
    ($(#[$doc:meta])* $name:ident, $label:literal, $dims:literal, $shape:literal) => {
        $(#[$doc])*
        ///
        /// The label mask is channel 0 of the record's masks ([`crate::Batch::masks`], the
        /// label of each pixel as a number); every channel of the masks moves with the
        /// selection. The draw is the gate (`p` per image, `p_batch` per call, as Kornia's)
        /// and one uniform `label_choice` per image; the label and the selection are computed
        /// from the masks when the step applies, in one batched pass, so that the same params
        /// replay on the same masks (Kornia picks each label with a `randperm` per donor on
        /// the CPU: the same seed draws Kornia's gate, not its labels). Params that hold a
        /// `selection`, Kornia's (`acceptor_indices`, `donor_indices`, `selection` for the
        /// acceptors) included, apply to images alone. Without a mask or a selection each
        /// image is one object, as with Kornia's (B,) mask: an acceptor receives the whole
        /// previous image. Not invertible; boxes and keypoints are refused, as Kornia
        /// refuses them.
        ///
        /// Params: `batch_prob` (B,), `label_choice` (B,) in [0, 1), `forward_input_shape`;
        /// completed with `selection` and `selected_labels` (B,).
        ///
        /// # Shapes
        #[doc = $shape]
        #[derive(Debug)]
        pub struct $name {
            cfg: TransplantConfig,
        }

        impl $name {
            /// Builds the augmentation (it has no variables; `path` is taken for symmetry).
            ///
            /// # Errors
            /// [`crate::Error::Config`] for a probability outside [0, 1].
            pub fn new<'p, P: Borrow<nn::Path<'p>>>(_path: P, cfg: TransplantConfig) -> Result<$name> {
                checks::probability($label, "p", cfg.p)?;
                checks::probability($label, "p_batch", cfg.p_batch)?;
                Ok($name { cfg })
            }
        }

        impl Augmentation for $name {
            fn name(&self) -> &'static str {
                $label
            }

            fn spec(&self) -> AugSpec {
                AugSpec::$name(self.cfg.clone())
            }

            fn spatial_dims(&self) -> usize {
                $dims
            }

            fn probabilities(&self) -> (f64, f64) {
                (self.cfg.p, self.cfg.p_batch)
            }

            fn role(&self) -> Role<'_> {
                Role::mask_driven(self)
            }

            fn sample(&self, shape: &[i64], device: Device) -> Result<Params> {
                let b = shape[0];
                let mut p = Params::new();
                p.insert("batch_prob", gate(b, self.cfg.p, self.cfg.p_batch, false, device)?);
                p.insert("forward_input_shape", Tensor::from_slice(shape));
                p.insert("label_choice", crate::rng::rand(&[b], (Kind::Float, device))?);
                Ok(p)
            }

            fn apply_transform(&self, input: &Tensor, params: &Params) -> Result<Tensor> {
                transplant($label, input, params)
            }

            /// Every channel of the masks moves with the selection.
            fn apply_mask(
                &self,
                mask: &Tensor,
                params: &Params,
                _how: &crate::MaskSampling,
            ) -> Result<Tensor> {
                transplant($label, mask, params)
            }
        }

        impl MaskDriven for $name {
            fn complete_params(&self, w: &Record, params: &Params) -> Result<Params> {
                complete($label, &self.cfg.excluded_labels, w, params)
            }
        }

        impl_module!($name);

        impl FromKornia for $name {
            type Config = TransplantConfig;

            fn from_kornia(kw: &Kwargs) -> Result<TransplantConfig> {
                let mut c = TransplantConfig::default();
                if let Some(v) = kw.nums("excluded_labels")? {
                    if v.iter().any(|x| x.fract() != 0.0 || !x.is_finite()) {
                        return Err(kw.err("excluded_labels", "a list of integer labels"));
                    }
                    c.excluded_labels = v.iter().map(|&x| x as i64).collect();
                }
                set!(c.p = kw.num("p")?);
                set!(c.p_batch = kw.num("p_batch")?);
                let _ = kw.get("data_keys");
                Ok(c)
            }
        }
    };
}

transplantation!(
    /// RandomTransplantation (Kornia's): each image that receives a transplant (its
    /// acceptor gate on) gets, from the previous image of the batch (cyclically), the pixels
    /// of one label of that image's label mask, image and masks alike (Sellner et al. 2023,
    /// for semantic segmentation).
    RandomTransplantation,
    "RandomTransplantation",
    2,
    "Input (B,C,H,W) or (C,H,W), masks (B,K,H,W) with the label map in channel 0; output the same."
);

transplantation!(
    /// RandomTransplantation3D (Kornia's): [`RandomTransplantation`] for volumes.
    RandomTransplantation3D,
    "RandomTransplantation3D",
    3,
    "Input (B,C,D,H,W) or (C,D,H,W), masks (B,K,D,H,W) with the label map in channel 0; output the same."
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AugmentationExt, Batch, BoxFormat, Boxes};

    fn op(cfg: TransplantConfig) -> RandomTransplantation {
        RandomTransplantation::new(nn::VarStore::new(Device::Cpu).root(), cfg).unwrap()
    }

    /// Image `i` receives, from image `i - 1`, exactly the pixels of one of that image's
    /// labels (outside the excluded ones), in the image and every mask channel; the rest is
    /// its own. Checked pixel by pixel on the host.
    #[test]
    fn each_image_receives_one_label_of_the_previous_one() {
        tch::manual_seed(4);
        let (b, h, w) = (4i64, 5i64, 6i64);
        let labels =
            Tensor::randint(4, [b, 1, h, w], (Kind::Int64, Device::Cpu)).to_kind(Kind::Float);
        // Image 2's donor (image 1) holds only the excluded label 3: image 2 receives nothing.
        let _ = labels.get(1).fill_(3.0);
        let extra = Tensor::rand([b, 1, h, w], (Kind::Float, Device::Cpu));
        let masks = Tensor::cat(&[&labels, &extra], 1);
        let x = Tensor::rand([b, 2, h, w], (Kind::Float, Device::Cpu));
        let aug = op(TransplantConfig {
            excluded_labels: vec![3],
            p: 1.0,
            p_batch: 1.0,
        });
        let batch = Batch {
            masks: Some(masks.shallow_clone()),
            ..Batch::new(x.shallow_clone())
        };
        let (out, params) = aug.f_forward_batch(&batch).unwrap();
        let out_masks = out.masks.as_ref().unwrap();
        for i in 0..b {
            let d = (i + b - 1) % b;
            let donor: Vec<f32> = Vec::try_from(labels.get(d).reshape([-1])).unwrap();
            let eligible: std::collections::BTreeSet<i64> = donor
                .iter()
                .map(|&v| v as i64)
                .filter(|&v| v != 3)
                .collect();
            let got_x: Vec<f32> = Vec::try_from(out.image.get(i).reshape([-1])).unwrap();
            let own_x: Vec<f32> = Vec::try_from(x.get(i).reshape([-1])).unwrap();
            let donor_x: Vec<f32> = Vec::try_from(x.get(d).reshape([-1])).unwrap();
            let got_m: Vec<f32> = Vec::try_from(out_masks.get(i).reshape([-1])).unwrap();
            let own_m: Vec<f32> = Vec::try_from(masks.get(i).reshape([-1])).unwrap();
            let donor_m: Vec<f32> = Vec::try_from(masks.get(d).reshape([-1])).unwrap();
            let n = (h * w) as usize;
            // The moved label: any pixel that differs from the own image names it.
            let moved: Vec<usize> = (0..n).filter(|&k| got_x[k] != own_x[k]).collect();
            if eligible.is_empty() {
                assert!(
                    moved.is_empty() && got_m == own_m,
                    "image {i} received from a donor without labels"
                );
                continue;
            }
            let label = donor[moved[0]] as i64;
            assert!(
                eligible.contains(&label),
                "image {i}: label {label} of {eligible:?}"
            );
            for k in 0..n {
                let take = donor[k] as i64 == label;
                for c in 0..2 {
                    let (o, s, dn) = (got_x[c * n + k], own_x[c * n + k], donor_x[c * n + k]);
                    assert_eq!(
                        o,
                        if take { dn } else { s },
                        "image {i} channel {c} pixel {k}"
                    );
                    let (o, s, dn) = (got_m[c * n + k], own_m[c * n + k], donor_m[c * n + k]);
                    assert_eq!(
                        o,
                        if take { dn } else { s },
                        "mask {i} channel {c} pixel {k}"
                    );
                }
            }
        }
        // The same params replay the same record.
        assert!(aug
            .f_apply_batch(&batch, &params)
            .unwrap()
            .image
            .equal(&out.image));
    }

    /// The label is uniform over the donor's labels (Kornia's randperm picks each alike).
    #[test]
    fn labels_are_drawn_uniformly() {
        tch::manual_seed(8);
        let (b, n) = (300i64, 4i64);
        // Every donor holds labels 0, 5 and 9 (on 1, 1 and 2 pixels: the draw is over labels, not area).
        let one = Tensor::from_slice(&[0.0f32, 5.0, 9.0, 9.0]).view([1, 1, 1, n]);
        let masks = one.repeat([b, 1, 1, 1]);
        let x = Tensor::zeros([b, 1, 1, n], (Kind::Float, Device::Cpu));
        let aug = op(TransplantConfig {
            p: 1.0,
            ..Default::default()
        });
        let batch = Batch {
            masks: Some(masks),
            ..Batch::new(x)
        };
        let params = aug.f_sample(&[b, 1, 1, n], Device::Cpu).unwrap();
        let w = crate::annotations::Record {
            masks: batch.masks.as_ref().map(|m| m.shallow_clone()),
            ..crate::annotations::Record::image_only(batch.image.shallow_clone())
        };
        let done = aug.complete_params(&w, &params).unwrap();
        let labels: Vec<f32> = Vec::try_from(done.get("selected_labels").unwrap()).unwrap();
        for l in [0.0f32, 5.0, 9.0] {
            let k = labels.iter().filter(|&&v| v == l).count();
            assert!((70..=130).contains(&k), "label {l} drawn {k} times of {b}");
        }
    }

    #[test]
    fn bad_calls_are_typed_errors() {
        let aug = op(TransplantConfig {
            p: 1.0,
            ..Default::default()
        });
        let x = Tensor::rand([2, 3, 4, 4], (Kind::Float, Device::Cpu));
        // Alone, each image is one object: the whole previous image moves.
        let y = aug.f_forward(&x).unwrap();
        assert!(y.equal(&x.roll([1], [0])));
        let out = aug.f_forward_batch(&Batch::new(x.shallow_clone())).unwrap();
        assert!(out.0.image.equal(&y));
        let boxes = Boxes::new(
            Tensor::from_slice(&[0.0f32, 0.0, 1.0, 1.0])
                .view([1, 1, 4])
                .repeat([2, 1, 1]),
            BoxFormat::Xyxy,
        );
        let masks = Tensor::zeros([2, 1, 4, 4], (Kind::Float, Device::Cpu));
        let with_boxes = Batch {
            masks: Some(masks),
            boxes: Some(boxes),
            ..Batch::new(x.shallow_clone())
        };
        let e = aug.f_forward_batch(&with_boxes).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Annotation {
                    what: "boxes and keypoints",
                    ..
                }
            ),
            "{e}"
        );
        // Kornia's layout with an acceptor outside the batch.
        let mut p = Params::new();
        p.insert("batch_prob", Tensor::ones([2], (Kind::Float, Device::Cpu)));
        p.insert("acceptor_indices", Tensor::from_slice(&[0i64, 2]));
        p.insert("donor_indices", Tensor::from_slice(&[1i64, 1]));
        p.insert(
            "selection",
            Tensor::ones([2, 4, 4], (Kind::Bool, Device::Cpu)),
        );
        let e = aug.f_apply(&x, &p).unwrap_err();
        assert!(
            matches!(&e, Error::Params { key, .. } if key == "acceptor_indices"),
            "{e}"
        );
        for bad in [-0.1, 1.5, f64::NAN] {
            let cfg = TransplantConfig {
                p: bad,
                ..Default::default()
            };
            assert!(
                RandomTransplantation::new(nn::VarStore::new(Device::Cpu).root(), cfg).is_err()
            );
        }
    }
}
