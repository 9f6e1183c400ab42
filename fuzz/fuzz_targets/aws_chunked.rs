#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| souverain::fuzzing::aws_chunked(data));
