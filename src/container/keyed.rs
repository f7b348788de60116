//! Kornia's keyed call: `aug(image, mask, boxes, ...)` with the tensors in the order of the
//! container's `data_keys`, and the results in the same order, as a Kornia script calls an
//! `AugmentationSequential`.

use super::{DataKey, Sequential, SEQ};
use crate::annotations::{Batch, BoxFormat, Boxes, Keypoints};
use crate::augmentation::AugmentationExt;
use crate::geometry::{box_corners, enclosure};
use crate::{Error, Params, Result};
use tch::{Kind, Tensor};

/// The data keys' rules: the image first, each other key at most once, one box format.
pub(super) fn check_data_keys(keys: &[DataKey]) -> Result<()> {
    let bad = |allowed: &str| {
        let names: Vec<&str> = keys.iter().map(|k| k.kornia_name()).collect();
        Err(crate::checks::config(
            SEQ,
            "data_keys",
            format!("{names:?}"),
            allowed,
        ))
    };
    if keys.first() != Some(&DataKey::Input) {
        return bad("the image (input) first, as Kornia requires");
    }
    for (i, k) in keys.iter().enumerate() {
        if keys[..i].contains(k) {
            return bad("each key at most once");
        }
    }
    let boxes = keys
        .iter()
        .filter(|k| matches!(k, DataKey::BboxXyxy | DataKey::BboxXywh | DataKey::Bbox))
        .count();
    if boxes > 1 {
        return bad("at most one box key (bbox, bbox_xyxy or bbox_xywh)");
    }
    Ok(())
}

impl Sequential {
    /// What the tensors of a keyed call are, in order: the config's `data_keys`, or the
    /// image alone.
    pub fn data_keys(&self) -> Vec<DataKey> {
        self.cfg
            .data_keys
            .clone()
            .unwrap_or_else(|| vec![DataKey::Input])
    }

    /// Kornia's call `aug(*inputs)`: `inputs` in the order of [`Sequential::data_keys`]
    /// (image, masks, boxes in the key's format, keypoints, labels), through the pipeline
    /// with the container's annotation options; the results in the same order, boxes in the
    /// same format, labels mixed where a MixUp or CutMix step mixed them. Box rows that hold
    /// no box (padding a RandomMosaic adds, boxes it or the options dropped) are zeros, as
    /// Kornia exports them.
    ///
    /// ```no_run
    /// use tch_dda::{AugSpec, Sequential};
    /// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    /// // K.AugmentationSequential(K.RandomHorizontalFlip(), data_keys=["input", "bbox_xywh"])
    /// let spec = AugSpec::from_kornia("AugmentationSequential", &serde_json::json!({
    ///     "steps": [["RandomHorizontalFlip", {}]],
    ///     "data_keys": ["input", "bbox_xywh"],
    /// })).unwrap();
    /// let AugSpec::Sequential(cfg) = spec else { unreachable!() };
    /// let aug = Sequential::new(vs.root(), cfg).unwrap();
    /// let image = tch::Tensor::rand([2, 3, 8, 8], (tch::Kind::Float, tch::Device::Cpu));
    /// let boxes = tch::Tensor::from_slice(&[2f32, 3., 5., 4.]).view([1, 1, 4]).repeat([2, 1, 1]);
    /// let out = aug.f_call(&[&image, &boxes]).unwrap(); // [image, boxes]
    /// ```
    ///
    /// # Errors
    /// [`Error::Config`] when the number of tensors is not the number of keys; otherwise
    /// as [`AugmentationExt::f_forward_batch`].
    pub fn f_call(&self, inputs: &[&Tensor]) -> Result<Vec<Tensor>> {
        Ok(self.f_call_with_params(inputs)?.0)
    }

    /// [`Sequential::f_call`], with the params it drew (to replay or invert).
    ///
    /// # Errors
    /// As [`Sequential::f_call`].
    pub fn f_call_with_params(&self, inputs: &[&Tensor]) -> Result<(Vec<Tensor>, Params)> {
        let keys = self.data_keys();
        let (out, params) = self.f_forward_batch(&keyed_batch(&keys, inputs)?)?;
        Ok((keyed_outputs(&keys, out)?, params))
    }

    /// Kornia's `aug(*inputs, params=params)`: [`Sequential::f_call`] replaying `params`.
    ///
    /// # Errors
    /// As [`Sequential::f_call`] and [`AugmentationExt::f_apply_batch`].
    pub fn f_call_replay(&self, inputs: &[&Tensor], params: &Params) -> Result<Vec<Tensor>> {
        let keys = self.data_keys();
        let out = self.f_apply_batch(&keyed_batch(&keys, inputs)?, params)?;
        keyed_outputs(&keys, out)
    }

    /// Kornia's `aug.inverse(*outputs, params=params)`: the keyed outputs of a call mapped
    /// back through the geometric steps to the input shape the call recorded
    /// ([`Params::recorded_input_shape`]); the results in the order of
    /// [`Sequential::data_keys`].
    ///
    /// # Errors
    /// As [`Sequential::f_call`], [`Params::recorded_input_shape`] and
    /// [`AugmentationExt::f_inverse_batch`].
    pub fn f_inverse_call(&self, outputs: &[&Tensor], params: &Params) -> Result<Vec<Tensor>> {
        let keys = self.data_keys();
        let shape = params.recorded_input_shape()?;
        let out = self.f_inverse_batch(&keyed_batch(&keys, outputs)?, params, &shape)?;
        keyed_outputs(&keys, out)
    }
}

/// The batch of a keyed call.
fn keyed_batch(keys: &[DataKey], inputs: &[&Tensor]) -> Result<Batch> {
    if inputs.len() != keys.len() {
        let names: Vec<&str> = keys.iter().map(|k| k.kornia_name()).collect();
        return Err(Error::Config {
            op: SEQ,
            name: "inputs",
            value: format!("{} tensors", inputs.len()),
            allowed: format!(
                "{} tensors, one per data key, in the order {names:?}",
                keys.len()
            ),
        });
    }
    // `check_data_keys` put the image first.
    let mut batch = Batch::new(inputs[0].shallow_clone());
    for (key, t) in keys.iter().zip(inputs).skip(1) {
        let t = t.shallow_clone();
        batch = match key {
            DataKey::Input => batch,
            DataKey::Mask => batch.with_masks(t),
            DataKey::BboxXyxy => batch.with_boxes(Boxes::new(t, BoxFormat::Xyxy)),
            DataKey::BboxXywh => batch.with_boxes(Boxes::new(t, BoxFormat::Xywh)),
            DataKey::Bbox => batch.with_boxes(Boxes::xyxy(vertex_boxes(&t)?)),
            DataKey::Keypoints => batch.with_keypoints(Keypoints::new(t)),
            DataKey::Label => batch.with_labels(t),
        };
    }
    Ok(batch)
}

/// Kornia's `bbox` boxes, (B,N,4,2) or (N,4,2) vertices, as the xyxy boxes around them.
fn vertex_boxes(t: &Tensor) -> Result<Tensor> {
    let s = t.size();
    let kind = t.kind();
    if matches!(
        kind,
        Kind::Bool | Kind::ComplexHalf | Kind::ComplexFloat | Kind::ComplexDouble
    ) || !(s.len() == 3 || s.len() == 4)
        || s[s.len() - 2..] != [4, 2]
    {
        return Err(Error::Annotation {
            op: SEQ,
            what: "bbox",
            problem: format!(
                "has shape {s:?} and kind {kind:?}; expected (B, N, 4, 2) or (N, 4, 2) real \
                 numbers: each box's four vertices (x, y), as Kornia's `bbox` key"
            ),
        });
    }
    Ok(enclosure(t))
}

/// The results of a keyed call, in the order of its keys.
fn keyed_outputs(keys: &[DataKey], out: Batch) -> Result<Vec<Tensor>> {
    let Batch {
        image,
        masks,
        boxes,
        keypoints,
        labels,
        mixed,
    } = out;
    let mut image = Some(image);
    // Rows that hold no box come back as zeros, as Kornia exports them.
    let boxes = boxes.map(|b| match &b.valid {
        Some(v) => b.data.where_scalarother(&v.unsqueeze(-1), 0.0),
        None => b.data,
    });
    let (mut masks, mut boxes) = (masks, boxes);
    let mut keypoints = keypoints.map(|k| k.points);
    let mut labels = mixed.map(|m| m.labels).or(labels);
    keys.iter()
        .map(|key| {
            let t = match key {
                DataKey::Input => image.take(),
                DataKey::Mask => masks.take(),
                DataKey::BboxXyxy | DataKey::BboxXywh => boxes.take(),
                DataKey::Bbox => boxes.take().map(|b| box_corners(&b)),
                DataKey::Keypoints => keypoints.take(),
                DataKey::Label => labels.take(),
            };
            // Every key's record went in, so every one comes out.
            t.ok_or_else(|| Error::Config {
                op: SEQ,
                name: "data_keys",
                value: format!("{:?} missing from the pipeline's output", key.kornia_name()),
                allowed: "every key's record carried through".into(),
            })
        })
        .collect()
}
