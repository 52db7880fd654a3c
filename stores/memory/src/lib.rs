//! memory store.
