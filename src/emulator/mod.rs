//! The IAM emulator (`ssc-operator emulator`). Owned by the emulator work stream.
