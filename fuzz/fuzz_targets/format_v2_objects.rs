#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| souverain::fuzzing::format_v2_objects(data));
