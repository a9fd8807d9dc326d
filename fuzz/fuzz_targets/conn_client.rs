//! A client-role connection that opens a few requests, then ingests arbitrary server bytes
//! after a valid SETTINGS frame. Input layout and checks: see `sallyport_fuzz::run`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sallyport::proto::h2::Role;

fuzz_target!(|data: &[u8]| {
    sallyport_fuzz::run(Role::Client, data);
});
