//! One registry names every operator once (`AugSpec::NAMES`); this checks, by the registry
//! and the fixtures rather than by searching test source, that every operator is covered:
//! each has a Kornia parity fixture whose constructor `AugSpec::from_kornia` builds into it,
//! and build.rs generates that fixture's parity, gradcheck, reproducibility and bad-input
//! tests (tests/operators.rs). A new operator (its file plus one registry row) cannot land
//! untested, and adding its fixture entry is all it takes to test it. torchvision's
//! operators (Kornia has none of them) are replayed against torchvision's fixture instead.

mod common;
use std::collections::{BTreeMap, BTreeSet};
use tch::nn::VarStore;
use tch::Device;
use tch_dda::*;

/// The presets, replayed against Kornia's through the fixture cases in tests/fixtures/auto
/// (tests/auto_presets.rs), and their gradient test in tests/gradcheck.rs: the one part
/// named here, as a preset is no Kornia constructor a fixture can record.
const PRESETS: [(&str, &str); 3] = [
    ("AutoAugment", "input_gradients_match_finite_differences"),
    ("RandAugment", "input_gradients_match_finite_differences"),
    ("TrivialAugment", "input_gradients_match_finite_differences"),
];

/// The checks build.rs generates for every top-level fixture (`same_draw` too where the
/// fixture recorded a draw).
const GENERATED: [&str; 4] = ["parity", "gradcheck", "reproducible", "bad_input"];

/// Our operator of each top-level fixture, as `AugSpec::from_kornia` builds its recorded
/// Kornia constructor: name -> fixtures.
fn fixture_operators() -> BTreeMap<String, Vec<String>> {
    let mut by_op: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for stem in common::fixture_stems("") {
        let fx = common::fixture(&stem);
        let class = fx.meta["kornia_class"].as_str().unwrap();
        let kwargs: serde_json::Value =
            serde_json::from_str(fx.meta["kwargs"].as_str().unwrap()).unwrap();
        let spec = AugSpec::from_kornia(class, &kwargs).unwrap_or_else(|e| panic!("{stem}: {e}"));
        by_op.entry(spec.name().to_string()).or_default().push(stem);
    }
    by_op
}

fn names() -> BTreeSet<&'static str> {
    AugSpec::NAMES.iter().copied().collect()
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

/// The test files of torchvision's operators (tests/registry.rs looks for each operator's
/// replay and gradient check in them).
const TORCHVISION_TESTS: [&str; 3] = [
    include_str!("torchvision/random_size.rs"),
    include_str!("torchvision/augmix.rs"),
    include_str!("torchvision/ioucrop.rs"),
];

#[test]
fn every_operator_has_a_fixture_and_its_generated_tests() {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/operator_tests.rs"));
    let by_op = fixture_operators();
    let mut missing = Vec::new();
    for name in names() {
        if let Some((_, test)) = PRESETS.iter().find(|(n, _)| *n == name) {
            let replayed = common::fixture_stems("auto/").iter().any(|stem| {
                let fx = common::fixture(stem);
                fx.meta
                    .get("cases")
                    .and_then(|c| c.as_str())
                    .is_some_and(|cases| {
                        let cases: Vec<serde_json::Value> = serde_json::from_str(cases).unwrap();
                        cases.iter().any(|c| c["preset"].as_str() == Some(name))
                    })
            });
            let gradient = include_str!("gradcheck.rs").contains(&format!("fn {test}("))
                && include_str!("gradcheck.rs").contains(&format!("AugSpec::{name}("));
            if !replayed || !gradient {
                missing.push(format!(
                    "{name} (replayed: {replayed}, gradient: {gradient})"
                ));
            }
            continue;
        }
        if AugSpec::reference(name) == Some(Reference::Torchvision) {
            // torchvision's: a fixture case names it, and a test file of torchvision's
            // operators builds it, replays a torchvision fixture and checks gradients.
            let tests = TORCHVISION_TESTS
                .iter()
                .find(|t| t.contains(&format!("AugSpec::{name}(")));
            let replayed = tests.is_some_and(|t| t.contains("common::fixture(\"torchvision/"));
            let gradient = tests.is_some_and(|t| t.contains("common::gradcheck("));
            let cases = common::torchvision_fixture_specs()
                .iter()
                .any(|s| s.name() == name);
            if !(replayed && gradient && cases) {
                missing.push(format!(
                    "{name} (torchvision's: replayed {replayed}, gradient {gradient}, fixture cases {cases})"
                ));
            }
            continue;
        }
        match by_op.get(name) {
            None => missing.push(format!("{name} (no fixture builds it)")),
            Some(stems) => {
                for stem in stems {
                    for check in GENERATED {
                        if !generated.contains(&format!("fn {stem}_{check}()")) {
                            missing.push(format!("{name}: {stem}_{check}"));
                        }
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "not covered: {missing:?}");
}

#[test]
fn every_fixture_is_replayed() {
    // The top-level fixtures are replayed by the generated tests; these, by their own.
    let tests = [
        include_str!("annotations_parity.rs"),
        include_str!("auto_presets.rs"),
    ]
    .concat();
    let unused: Vec<String> = ["annotations/", "auto/"]
        .iter()
        .flat_map(|sub| common::fixture_stems(sub))
        .filter(|stem| {
            let short = stem.rsplit('/').next().unwrap();
            !tests.contains(&format!("\"{stem}\"")) && !tests.contains(&format!("\"{short}\""))
        })
        .collect();
    assert!(unused.is_empty(), "fixtures no test replays: {unused:?}");
    let generated = include_str!(concat!(env!("OUT_DIR"), "/operator_tests.rs"));
    let ungenerated: Vec<String> = common::fixture_stems("")
        .into_iter()
        .filter(|stem| !generated.contains(&format!("super::parity(\"{stem}\")")))
        .collect();
    assert!(
        ungenerated.is_empty(),
        "fixtures without generated tests: {ungenerated:?}"
    );
}
