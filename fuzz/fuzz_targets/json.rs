//! Strict JSON + JCS: never panics, and canonical output is a fixed point.
#![no_main]

use axtary_core::json::{Limits, canonicalize, parse_strict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = parse_strict(data, Limits::default()) {
        let canon = canonicalize(&value);
        let again = parse_strict(&canon, Limits { max_bytes: usize::MAX, ..Limits::default() })
            .expect("canonical output must parse");
        assert_eq!(canonicalize(&again), canon, "canonicalization must be idempotent");
    }
});
