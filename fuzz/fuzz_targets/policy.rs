//! The policy loader never panics, whatever the file says.
#![no_main]

use axtary_core::policy::{Policy, PolicyEnv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = std::str::from_utf8(data) {
        let env = PolicyEnv { axtary_home: Some("/home/u/.axtary".into()), ..Default::default() };
        let _ = Policy::load(source, &env);
    }
});
