//! simple store.
