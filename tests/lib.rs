//! Shared helpers for the integration tests (model paths).
