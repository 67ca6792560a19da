//! The shell analyzer is total.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(command) = std::str::from_utf8(data) {
        let _ = axtary_core::normalize::shell::analyze(command);
    }
});
