//! The wrapper's JSON-RPC line classifier never panics, and never disagrees with a plain JSON
//! parser: where both read a line, they read the same `method` (two parsers that disagree on
//! a line's method would let a `tools/call` reach a server unguarded).
#![no_main]

use axtary_core::jsonrpc::{self, Line};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn method(v: &Value) -> Option<&str> {
    v.get("method").and_then(Value::as_str)
}

fuzz_target!(|data: &[u8]| {
    let _ = jsonrpc::salvage_id(data);
    let Ok(line) = jsonrpc::classify(data) else {
        return;
    };
    // A line another parser refuses cannot be read as another request: only a parser that
    // reads a different `method` is a disagreement. (serde_json's `Value` refuses numbers
    // beyond f64 in members the classifier skips, and special-cases its private raw-value
    // key; the server's parser would refuse or ignore such a line.)
    let Ok(plain) = serde_json::from_slice::<Value>(jsonrpc::trim_line_end(data)) else {
        return;
    };
    match (&line, &plain) {
        (Line::Single(env), v) => {
            assert_eq!(env.method.as_deref(), method(v), "method disagrees");
            if let Some(id) = env.id {
                let _ = jsonrpc::id_key(id);
            }
        }
        (Line::Batch(envs), Value::Array(items)) => {
            assert_eq!(envs.len(), items.len());
            for (env, v) in envs.iter().zip(items) {
                assert_eq!(env.method.as_deref(), method(v), "method disagrees in a batch");
            }
        }
        (Line::Batch(_), other) => panic!("a batch that is not an array: {other}"),
    }
});
