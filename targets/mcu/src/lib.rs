//! Adapter for microcontrollers without an OS.
#![no_std]
