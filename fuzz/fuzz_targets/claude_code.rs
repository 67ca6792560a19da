//! Claude Code hook payloads through the mapping and the normalizers: any bytes give a
//! request (and an Action or an error), never a panic.
#![no_main]

use axtary_core::claude_code;
use axtary_core::json::Limits;
use axtary_core::normalize::{NormalizeOptions, normalize};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(hook) = claude_code::parse(data, Limits::default()) {
        let req = hook.to_request();
        let opts = NormalizeOptions { user_home: Some("/home/u".into()), ..Default::default() };
        if let Ok(action) = normalize(&req, &opts) {
            let _ = action.hash();
        }
        if let Some(r) = &hook.tool_response {
            let _ = claude_code::response_failed(r);
        }
    }
});
