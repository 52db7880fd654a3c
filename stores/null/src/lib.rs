//! null store.
