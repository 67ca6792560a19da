//! The policy cache's tree decoder refuses or decodes any bytes without panicking, a decoded
//! tree round-trips, and compiling and deciding with it never panics.
#![no_main]

use std::sync::LazyLock;

use axtary_core::action::Action;
use libfuzzer_sys::fuzz_target;

static ACTION: LazyLock<Action> = LazyLock::new(|| {
    serde_json::from_value(serde_json::json!({
        "v": 1, "agent": "claude-code", "connector": "fs", "operation": "edit",
        "resource": "fs:/repo/src/lib.rs", "payload": {},
        "facts": {"paths": ["src/lib.rs"], "abs_paths": ["/repo/src/lib.rs"], "op": "edit"}
    }))
    .expect("a valid action")
});

fuzz_target!(|data: &[u8]| {
    axtary_core::policy::fuzz_policy_tree(data, &ACTION);
});
