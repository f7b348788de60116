//! Kornia's dispatchers: several pipelines, each called on its own inputs
//! ([`ManyToMany`]) or all on the same ones ([`ManyToOne`]).

use super::Sequential;
use crate::{Error, Result};
use tch::Tensor;

/// Kornia's `ManyToManyAugmentationDispather`: pipeline `i` is called on input bundle `i`
/// (Kornia's `aug(*inputs)`, [`Sequential::f_call`], in its `data_keys` order), in order,
/// each drawing its own params, so the same seed gives Kornia's outputs.
///
/// ```no_run
/// use tch_dda::{AugSpec, ManyToMany, Sequential};
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let flip = AugSpec::from_kornia("AugmentationSequential", &serde_json::json!(
///     {"steps": [["RandomHorizontalFlip", {"p": 1.0}]]}))?;
/// let blur = AugSpec::from_kornia("AugmentationSequential", &serde_json::json!(
///     {"steps": [["RandomGaussianBlur", {"kernel_size": 3, "sigma": [0.1, 2.0]}]]}))?;
/// let (AugSpec::Sequential(a), AugSpec::Sequential(b)) = (flip, blur) else { unreachable!() };
/// let both = ManyToMany::new(vec![
///     Sequential::new(vs.root() / "a", a)?,
///     Sequential::new(vs.root() / "b", b)?,
/// ]);
/// let (x, y) = (tch::Tensor::rand([2, 3, 8, 8], tch::kind::FLOAT_CPU), tch::Tensor::rand([2, 1, 8, 8], tch::kind::FLOAT_CPU));
/// let out = both.f_call(&[&[&x], &[&y]])?; // [[x'], [y']]
/// # Ok::<(), tch_dda::Error>(())
/// ```
#[derive(Debug)]
pub struct ManyToMany {
    pipelines: Vec<Sequential>,
}

impl ManyToMany {
    /// The pipelines, in the order of the input bundles.
    pub fn new(pipelines: Vec<Sequential>) -> ManyToMany {
        ManyToMany { pipelines }
    }

    /// The pipelines.
    pub fn pipelines(&self) -> &[Sequential] {
        &self.pipelines
    }

    /// Calls pipeline `i` on `inputs[i]`, in order; the outputs in the same order.
    ///
    /// # Errors
    /// [`Error::Config`] when the number of bundles is not the number of pipelines (before
    /// any pipeline runs); otherwise as [`Sequential::f_call`].
    pub fn f_call(&self, inputs: &[&[&Tensor]]) -> Result<Vec<Vec<Tensor>>> {
        if inputs.len() != self.pipelines.len() {
            return Err(Error::Config {
                op: "ManyToMany",
                name: "inputs",
                value: format!("{} input bundles", inputs.len()),
                allowed: format!("one bundle per pipeline: {}", self.pipelines.len()),
            });
        }
        self.pipelines
            .iter()
            .zip(inputs)
            .map(|(p, x)| p.f_call(x))
            .collect()
    }
}

/// Kornia's `ManyToOneAugmentationDispather`: every pipeline is called on the same inputs
/// (Kornia's `aug(*inputs)`, [`Sequential::f_call`]), in order, each drawing its own params
/// (several views of one batch, as contrastive learning takes them).
///
/// ```no_run
/// use tch_dda::{AugSpec, ManyToOne, Sequential};
/// let vs = tch::nn::VarStore::new(tch::Device::Cpu);
/// let view = |name: &str| -> tch_dda::Result<Sequential> {
///     let AugSpec::Sequential(cfg) = AugSpec::from_kornia("AugmentationSequential", &serde_json::json!(
///         {"steps": [["RandomResizedCrop", {"size": [6, 6]}], ["ColorJitter", {"brightness": 0.4, "hue": 0.1}]]}))?
///     else { unreachable!() };
///     Sequential::new(vs.root() / name, cfg)
/// };
/// let views = ManyToOne::new(vec![view("a")?, view("b")?], true)?;
/// let x = tch::Tensor::rand([4, 3, 8, 8], tch::kind::FLOAT_CPU);
/// let out = views.f_call(&[&x])?; // [[view a], [view b]]
/// # Ok::<(), tch_dda::Error>(())
/// ```
#[derive(Debug)]
pub struct ManyToOne {
    pipelines: Vec<Sequential>,
}

impl ManyToOne {
    /// The pipelines. With `strict` (Kornia's default) they must all take the same
    /// `data_keys`, so that no pipeline reads a mask as an image.
    ///
    /// # Errors
    /// [`Error::Config`] when `strict` and two pipelines' data keys differ.
    pub fn new(pipelines: Vec<Sequential>, strict: bool) -> Result<ManyToOne> {
        if strict {
            for (i, pair) in pipelines.windows(2).enumerate() {
                let (a, b) = (pair[0].data_keys(), pair[1].data_keys());
                if a != b {
                    return Err(Error::Config {
                        op: "ManyToOne",
                        name: "data_keys",
                        value: format!("{a:?} (pipeline {i}) and {b:?} (pipeline {})", i + 1),
                        allowed: "the same data keys in every pipeline (or strict = false)".into(),
                    });
                }
            }
        }
        Ok(ManyToOne { pipelines })
    }

    /// The pipelines.
    pub fn pipelines(&self) -> &[Sequential] {
        &self.pipelines
    }

    /// Calls every pipeline on `inputs`, in order; one output bundle per pipeline.
    ///
    /// # Errors
    /// As [`Sequential::f_call`].
    pub fn f_call(&self, inputs: &[&Tensor]) -> Result<Vec<Vec<Tensor>>> {
        self.pipelines.iter().map(|p| p.f_call(inputs)).collect()
    }
}
