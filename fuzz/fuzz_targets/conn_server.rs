//! A server-role connection fed arbitrary client bytes after a valid preface and SETTINGS.
//! Input layout and checks: see `sallyport_fuzz::run`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sallyport::proto::h2::Role;

fuzz_target!(|data: &[u8]| {
    sallyport_fuzz::run(Role::Server, data);
});
