#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| pyrsia_boot_tests::fuzz::bootnode(data));
