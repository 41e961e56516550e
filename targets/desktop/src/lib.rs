//! Adapter for desktop x86_64/aarch64 Linux, macOS and Windows (threads, tier report).
