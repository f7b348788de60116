//! torchvision's operators (those Kornia lacks), one test binary with a module per
//! operator family, each against its torchvision 0.28 fixtures (tests/fixtures/torchvision/):
//! `cargo test --test torchvision augmix` runs everything about AugMix.

mod common;

#[path = "torchvision/augmix.rs"]
mod augmix;
#[path = "torchvision/ioucrop.rs"]
mod ioucrop;
#[path = "torchvision/random_size.rs"]
mod random_size;
