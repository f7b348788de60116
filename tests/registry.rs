//! One registry names every operator once (`AugSpec::NAMES`); this checks that the
//! behaviour tests, the gradient checks and the parity fixtures cover every one of them, so
//! that a new operator (its file plus one registry line) cannot land untested.

mod common;
use std::collections::BTreeSet;
use tch::nn::VarStore;
use tch::Device;
use tch_dda::*;

/// Operators whose gradient is not checked by finite differences, and the tests (in
/// tests/behaviour.rs or tests/volume_mix.rs) that check it directly instead.
const GRADIENT_TESTED_DIRECTLY: [(&str, &str); 3] = [
    (
        "RandomEqualize",
        "equalize_straight_through_keeps_the_forward_and_passes_the_gradient",
    ),
    (
        "RandomPosterize",
        "posterize_and_autocontrast_straight_through_keep_the_forward",
    ),
    (
        "RandomEqualize3D",
        "equalize3d_has_zero_gradient_and_straight_through_passes_it",
    ),
];

fn names() -> BTreeSet<&'static str> {
    AugSpec::NAMES.iter().copied().collect()
}

/// Our registry name of a Kornia class in a fixture.
fn ours(kornia: &str) -> &str {
    match kornia {
        "AugmentationSequential" => "Sequential",
        "RandomMixUpV2" => "RandomMixUp",
        "RandomCutMixV2" => "RandomCutMix",
        k => k,
    }
}

#[test]
fn every_name_is_registered_once_and_builds_its_own_spec() {
    assert_eq!(names().len(), AugSpec::NAMES.len(), "duplicate names");
    let vs = VarStore::new(Device::Cpu);
    for spec in common::all_specs() {
        let aug = spec.build(&(vs.root() / spec.name())).unwrap();
        assert_eq!(aug.spec().name(), spec.name());
    }
}

#[test]
fn behaviour_tests_cover_every_operator() {
    let covered: BTreeSet<String> = common::all_specs()
        .iter()
        .map(|s| s.name().to_string())
        .collect();
    let missing: Vec<_> = names()
        .into_iter()
        .filter(|n| !covered.contains(*n))
        .collect();
    assert!(missing.is_empty(), "tests/behaviour.rs misses {missing:?}");
}

#[test]
fn gradient_checks_cover_every_operator() {
    let gradcheck = include_str!("gradcheck.rs");
    let direct = [include_str!("behaviour.rs"), include_str!("volume_mix.rs")].concat();
    let mut missing = Vec::new();
    for name in names() {
        let checked = gradcheck.contains(&format!("AugSpec::{name}("))
            || gradcheck.contains(&format!("{name}::new("));
        let by_hand = GRADIENT_TESTED_DIRECTLY
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, test)| direct.contains(&format!("fn {test}(")));
        match (checked, by_hand) {
            (true, _) | (false, Some(true)) => {}
            (false, Some(false)) => missing.push(format!("{name} (its direct test is gone)")),
            (false, None) => missing.push(name.to_string()),
        }
    }
    assert!(missing.is_empty(), "no gradient check for {missing:?}");
}

#[test]
fn parity_fixtures_cover_every_operator_and_every_fixture_is_replayed() {
    let tests = [
        include_str!("parity.rs"),
        include_str!("parity_volume_mix.rs"),
        include_str!("annotations_parity.rs"),
        include_str!("auto_presets.rs"),
    ]
    .concat();
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut covered = BTreeSet::new();
    let mut unused = Vec::new();
    for sub in ["", "annotations/", "auto/"] {
        for entry in std::fs::read_dir(format!("{dir}/{sub}")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "safetensors") {
                continue;
            }
            let stem = path.file_stem().unwrap().to_string_lossy().to_string();
            if !tests.contains(&format!("\"{stem}\""))
                && !tests.contains(&format!("\"{sub}{stem}\""))
            {
                unused.push(format!("{sub}{stem}"));
            }
            let fx = common::fixture(&format!("{sub}{stem}"));
            if let Some(class) = fx.meta.get("kornia_class").and_then(|v| v.as_str()) {
                covered.insert(ours(class).to_string());
            }
            if let Some(cases) = fx.meta.get("cases").and_then(|v| v.as_str()) {
                let cases: Vec<serde_json::Value> = serde_json::from_str(cases).unwrap();
                for case in cases {
                    if let Some(preset) = case["preset"].as_str() {
                        covered.insert(preset.to_string());
                    }
                }
            }
            if let Some(steps) = fx.meta.get("steps").and_then(|v| v.as_str()) {
                covered.insert("Sequential".to_string());
                let steps: Vec<(String, serde_json::Value)> = serde_json::from_str(steps).unwrap();
                for (class, _) in steps {
                    covered.insert(ours(&class).to_string());
                }
            }
        }
    }
    assert!(
        unused.is_empty(),
        "fixtures no parity test replays: {unused:?}"
    );
    let missing: Vec<_> = names()
        .into_iter()
        .filter(|n| !covered.contains(*n))
        .collect();
    assert!(missing.is_empty(), "no Kornia fixture for {missing:?}");
}
