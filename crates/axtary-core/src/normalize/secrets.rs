//! Content detector for secrets (`facts.secrets`).
//!
//! PLACEHOLDER: the real detectors land in their own change.

/// Names of the detectors that match anywhere in `text`, added to `found`.
pub fn detect(text: &str, found: &mut std::collections::BTreeSet<&'static str>) {
    let _ = (text, found);
}
