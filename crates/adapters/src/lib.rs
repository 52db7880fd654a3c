//! Typed views over key-value stores (being written).
