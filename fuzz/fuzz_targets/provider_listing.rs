#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| souverain::fuzzing::provider_listing(data));
