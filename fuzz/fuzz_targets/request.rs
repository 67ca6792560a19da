//! Whole requests through the normalizers: any bytes give an Action or an error.
#![no_main]

use axtary_core::ActionRequest;
use axtary_core::json::Limits;
use axtary_core::normalize::{NormalizeOptions, normalize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = ActionRequest::from_slice(data, Limits::default()) {
        let opts = NormalizeOptions { user_home: Some("/home/u".into()), ..Default::default() };
        if let Ok(action) = normalize(&req, &opts) {
            let _ = action.hash();
        }
    }
});
