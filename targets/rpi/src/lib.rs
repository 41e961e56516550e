//! Adapter for the Raspberry Pi (aarch64 Linux).
