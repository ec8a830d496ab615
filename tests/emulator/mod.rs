//! Local stand-ins for the cloud APIs the tools talk to, shared by the test
//! crates (`mod emulator;`) and the `kas-emulator` binary.

pub mod gcp;
