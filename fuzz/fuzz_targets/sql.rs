//! The SQL analyzer is total in both dialects.
#![no_main]

use axtary_core::normalize::sql::{Dialect, analyze};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sql) = std::str::from_utf8(data) {
        let _ = analyze(Dialect::Postgres, sql);
        let _ = analyze(Dialect::Sqlite, sql);
    }
});
